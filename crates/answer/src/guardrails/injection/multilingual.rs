//! The commonest attacks in other languages, where they are cheap to say precisely: "ignore the
//! previous instructions" and "show your system prompt" in German, Spanish, French, Portuguese,
//! Italian, Dutch, Chinese and Japanese. Each names the bot's instructions (previous, all,
//! yours), so "should I ignore the instructions in the manual?" stays a question.

use std::sync::LazyLock;

use regex::Regex;

use crate::guardrails::text::fixed_regex;

/// An imperative "ignore/forget/disregard" with the bot's instructions within a few words.
pub(super) static IGNORE_INSTRUCTIONS: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        # German
        \b(?:ignoriere|ignorier|ignorieren\s+sie|vergiss|vergessen\s+sie|missachte|missachten\s+sie)\s+
          (?:[\w']+\s+){0,3}?(?:alle|vorherigen|bisherigen|obigen|vorigen|deine|ihre|sämtliche)\s+(?:[\w']+\s+){0,2}?
          (?:anweisungen|anweisung|regeln|vorgaben|instruktionen|befehle|richtlinien)\b
        # Spanish
        | \b(?:ignora|ignore|olvida|olvide|omite|omita|descarta)\s+(?:[\w']+\s+){0,3}?
          (?:todas|anteriores|previas|tus|sus|las\s+anteriores)\s+(?:[\w']+\s+){0,2}?
          (?:instrucciones|reglas|indicaciones|órdenes|directrices)\b
        | \b(?:ignora|ignore|olvida|olvide|omite|omita|descarta)\s+(?:[\w']+\s+){0,2}?(?:instrucciones|reglas|indicaciones)\s+(?:anteriores|previas)\b
        # French
        | \b(?:ignore|ignorez|oublie|oubliez|néglige|négligez)\s+(?:[\w']+\s+){0,3}?
          (?:toutes|tes|vos|précédentes|les\s+précédentes)\s+(?:[\w']+\s+){0,2}?(?:instructions|règles|consignes|directives)\b
        | \b(?:ignore|ignorez|oublie|oubliez)\s+(?:[\w']+\s+){0,2}?(?:instructions|règles|consignes|directives)\s+(?:précédentes|antérieures|ci-dessus)\b
        # Portuguese
        | \b(?:ignore|ignora|esqueça|esqueca|esquece|desconsidere)\s+(?:[\w']+\s+){0,3}?
          (?:todas|suas|tuas|anteriores)\s+(?:[\w']+\s+){0,2}?(?:instruções|instrucoes|regras|diretrizes)\b
        | \b(?:ignore|ignora|esqueça|esqueca|desconsidere)\s+(?:[\w']+\s+){0,2}?(?:instruções|instrucoes|regras)\s+(?:anteriores|acima)\b
        # Italian
        | \b(?:ignora|ignori|dimentica|dimentichi)\s+(?:[\w']+\s+){0,3}?
          (?:tutte|tue|sue|precedenti)\s+(?:[\w']+\s+){0,2}?(?:istruzioni|regole|direttive)\b
        | \b(?:ignora|ignori|dimentica)\s+(?:[\w']+\s+){0,2}?(?:istruzioni|regole)\s+(?:precedenti|sopra)\b
        # Dutch
        | \b(?:negeer|vergeet)\s+(?:[\w']+\s+){0,3}?(?:alle|vorige|eerdere|je|jouw|uw)\s+(?:[\w']+\s+){0,2}?(?:instructies|regels|richtlijnen)\b
        # Chinese (no word boundaries between Han characters)
        | (?:忽略|无视|忽视|忘记|忘掉|不要理会|不要遵守|无需遵守)[^。！？\n]{0,10}(?:之前|以前|上面|上述|先前|所有|全部|你的|原来的|原有的)[^。！？\n]{0,6}(?:指令|指示|规则|提示|说明|设定|限制)
        # Japanese
        | (?:以前|前|上記|これまで|すべて)の(?:指示|命令|ルール|指令)を(?:すべて)?(?:無視|忘れ)
        ",
    )
});

/// Asking for the system prompt or the hidden instructions.
pub(super) static REVEAL_PROMPT: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        # German: zeig/nenne/verrate/übersetze … (den) System-Prompt / deine (versteckten) Anweisungen
        \b(?:zeig|zeige|zeigen\s+sie|nenne|nennen\s+sie|verrate|verraten\s+sie|gib|geben\s+sie|wiederhole|übersetze|übersetzen\s+sie|fasse)\b[^.!?\n]{0,40}
          \b(?:system-?prompts?|systemanweisungen|(?:deine|ihre)\s+(?:versteckten|geheimen|internen|ursprünglichen|ersten)\s+(?:anweisungen|regeln|instruktionen))\b
        # Spanish
        | \b(?:muestra|muéstrame|muestrame|revela|revélame|dime|repite|traduce|resume|dame)\b[^.!?\n]{0,40}
          \b(?:prompt\s+(?:del|de)\s+sistema|instrucciones\s+(?:del\s+sistema|ocultas|secretas|internas|originales)|tus\s+instrucciones\s+(?:ocultas|secretas|internas|originales))\b
        # French
        | \b(?:montre|montrez|révèle|révélez|dis|dites|répète|répétez|traduis|traduisez|résume|résumez|donne|donnez)\b[^.!?\n]{0,40}
          \b(?:prompt\s+(?:système|systeme|du\s+système)|instructions\s+(?:système|cachées|secrètes|internes|initiales)|(?:tes|vos)\s+instructions\s+(?:cachées|secrètes|internes|initiales))\b
        # Portuguese / Italian
        | \b(?:mostre|mostra|revele|rivela|diga|dimmi|repita|ripeti|traduza|traduci)\b[^.!?\n]{0,40}
          \b(?:prompt\s+(?:do|di|del)\s+sistema|instruções\s+(?:ocultas|secretas|internas)|istruzioni\s+(?:nascoste|segrete|interne|di\s+sistema))\b
        # Chinese: 显示/告诉我/输出/打印/泄露/翻译/重复 … 系统提示(词)/隐藏的指令/你的指令
        | (?:显示|告诉我|输出|打印|泄露|透露|翻译|重复|给我看|展示|说出)[^。！？\n]{0,12}(?:系统提示|系统指令|系统消息|隐藏的?指令|隐藏的?提示|你的(?:指令|提示词|设定|规则))
        # Japanese
        | システムプロンプト[^。！？\n]{0,10}(?:教えて|見せて|表示|出力|翻訳)
        ",
    )
});
