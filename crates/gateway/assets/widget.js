/*! Fathom chat widget. One tag installs it:
 *   <script src="https://support.example/widget.js" data-workspace="acme" async></script>
 * Optional: data-locale="fr", data-color="#0b5fff", data-api="https://…" (default: where this
 * file came from), data-open (start open). The panel reopens after a reload if it was open.
 *
 * A custom element with a shadow DOM, no dependencies. Untrusted text (answers, articles, agent
 * replies) only ever reaches the page through textContent and checked http(s) links. */
(() => {
  "use strict";
  const TAG = "fathom-chat";
  const script = document.currentScript;
  if (customElements.get(TAG)) return;

  const STRINGS = {
    en: {
      title: "Support", subtitle: "Ask us anything", open: "Chat with support", close: "Close chat",
      placeholder: "Type your question…", send: "Send", person: "Talk to a person",
      greeting: "Hi! Ask a question and I'll answer from our help center.",
      handoff: "A teammate will reply here.", closed: "This conversation has ended.",
      restart: "Start a new conversation", typing: "Typing…", sources: "Sources",
      helpful: "Helpful", unhelpful: "Not helpful", thanks: "Thanks for the feedback.",
      you: "You", bot: "Assistant", agent: "Teammate", retry: "Retry",
      offline: "You seem to be offline. Check your connection, then try again.",
      limited: "You're sending messages too quickly. Please wait {s} seconds, then try again.",
      unavailable: "Support chat is unavailable right now. Please try again in a moment.",
      unreachable: "We can't reach support chat from this page right now.",
      notAllowed: "Support chat isn't available on this website.",
      refused: "Something went wrong with that message: {m}",
      log: "Conversation",
    },
    fr: {
      title: "Assistance", subtitle: "Posez-nous vos questions", open: "Discuter avec l'assistance",
      close: "Fermer la discussion", placeholder: "Écrivez votre question…", send: "Envoyer",
      person: "Parler à une personne",
      greeting: "Bonjour ! Posez une question, je réponds à partir de notre centre d'aide.",
      handoff: "Un membre de l'équipe vous répondra ici.", closed: "Cette conversation est terminée.",
      restart: "Nouvelle conversation", typing: "En train d'écrire…", sources: "Sources",
      helpful: "Utile", unhelpful: "Pas utile", thanks: "Merci pour votre avis.",
      you: "Vous", bot: "Assistant", agent: "Équipe", retry: "Réessayer",
      offline: "Vous semblez hors ligne. Vérifiez votre connexion puis réessayez.",
      limited: "Trop de messages d'affilée. Attendez {s} secondes puis réessayez.",
      unavailable: "L'assistance est indisponible pour le moment. Réessayez dans un instant.",
      unreachable: "Impossible de joindre l'assistance depuis cette page pour le moment.",
      notAllowed: "L'assistance par chat n'est pas disponible sur ce site.",
      refused: "Ce message n'a pas pu être traité : {m}", log: "Conversation",
    },
    de: {
      title: "Support", subtitle: "Fragen Sie uns", open: "Chat mit dem Support", close: "Chat schließen",
      placeholder: "Ihre Frage…", send: "Senden", person: "Mit einer Person sprechen",
      greeting: "Hallo! Stellen Sie eine Frage, ich antworte aus unserem Hilfe-Center.",
      handoff: "Ein Teammitglied antwortet Ihnen hier.", closed: "Diese Unterhaltung ist beendet.",
      restart: "Neue Unterhaltung", typing: "Schreibt…", sources: "Quellen",
      helpful: "Hilfreich", unhelpful: "Nicht hilfreich", thanks: "Danke für Ihr Feedback.",
      you: "Sie", bot: "Assistent", agent: "Team", retry: "Erneut versuchen",
      offline: "Sie scheinen offline zu sein. Prüfen Sie die Verbindung und versuchen Sie es erneut.",
      limited: "Zu viele Nachrichten. Bitte warten Sie {s} Sekunden und versuchen Sie es erneut.",
      unavailable: "Der Support-Chat ist gerade nicht verfügbar. Bitte gleich noch einmal versuchen.",
      unreachable: "Der Support-Chat ist von dieser Seite aus gerade nicht erreichbar.",
      notAllowed: "Der Support-Chat ist auf dieser Website nicht verfügbar.",
      refused: "Diese Nachricht konnte nicht verarbeitet werden: {m}", log: "Unterhaltung",
    },
    es: {
      title: "Soporte", subtitle: "Pregúntanos", open: "Chatear con soporte", close: "Cerrar chat",
      placeholder: "Escribe tu pregunta…", send: "Enviar", person: "Hablar con una persona",
      greeting: "¡Hola! Haz una pregunta y responderé desde nuestro centro de ayuda.",
      handoff: "Un miembro del equipo te responderá aquí.", closed: "Esta conversación ha terminado.",
      restart: "Nueva conversación", typing: "Escribiendo…", sources: "Fuentes",
      helpful: "Útil", unhelpful: "No es útil", thanks: "Gracias por tu opinión.",
      you: "Tú", bot: "Asistente", agent: "Equipo", retry: "Reintentar",
      offline: "Parece que no tienes conexión. Compruébala e inténtalo de nuevo.",
      limited: "Demasiados mensajes seguidos. Espera {s} segundos e inténtalo de nuevo.",
      unavailable: "El chat de soporte no está disponible ahora. Inténtalo en un momento.",
      unreachable: "No podemos conectar con el chat de soporte desde esta página ahora.",
      notAllowed: "El chat de soporte no está disponible en este sitio.",
      refused: "No se pudo procesar ese mensaje: {m}", log: "Conversación",
    },
    pt: {
      title: "Suporte", subtitle: "Pergunte-nos", open: "Conversar com o suporte", close: "Fechar conversa",
      placeholder: "Escreva sua pergunta…", send: "Enviar", person: "Falar com uma pessoa",
      greeting: "Olá! Faça uma pergunta e eu respondo com base na nossa central de ajuda.",
      handoff: "Alguém da equipe vai responder aqui.", closed: "Esta conversa foi encerrada.",
      restart: "Nova conversa", typing: "Digitando…", sources: "Fontes",
      helpful: "Útil", unhelpful: "Não foi útil", thanks: "Obrigado pelo seu feedback.",
      you: "Você", bot: "Assistente", agent: "Equipe", retry: "Tentar novamente",
      offline: "Parece que você está sem conexão. Verifique sua internet e tente novamente.",
      limited: "Muitas mensagens seguidas. Aguarde {s} segundos e tente novamente.",
      unavailable: "O chat de suporte está indisponível no momento. Tente novamente em instantes.",
      unreachable: "Não conseguimos acessar o chat de suporte a partir desta página agora.",
      notAllowed: "O chat de suporte não está disponível neste site.",
      refused: "Não foi possível processar essa mensagem: {m}", log: "Conversa",
    },
    it: {
      title: "Assistenza", subtitle: "Chiedici pure", open: "Chatta con l'assistenza", close: "Chiudi la chat",
      placeholder: "Scrivi la tua domanda…", send: "Invia", person: "Parla con una persona",
      greeting: "Ciao! Fai una domanda e ti rispondo dal nostro centro assistenza.",
      handoff: "Un membro del team ti risponderà qui.", closed: "Questa conversazione è terminata.",
      restart: "Nuova conversazione", typing: "Sta scrivendo…", sources: "Fonti",
      helpful: "Utile", unhelpful: "Non utile", thanks: "Grazie per il tuo feedback.",
      you: "Tu", bot: "Assistente", agent: "Team", retry: "Riprova",
      offline: "Sembra che tu sia offline. Controlla la connessione e riprova.",
      limited: "Troppi messaggi di fila. Attendi {s} secondi e riprova.",
      unavailable: "La chat di assistenza non è disponibile al momento. Riprova tra poco.",
      unreachable: "Non riusciamo a raggiungere la chat di assistenza da questa pagina.",
      notAllowed: "La chat di assistenza non è disponibile su questo sito.",
      refused: "Non è stato possibile elaborare il messaggio: {m}", log: "Conversazione",
    },
    nl: {
      title: "Support", subtitle: "Stel ons je vraag", open: "Chat met support", close: "Chat sluiten",
      placeholder: "Typ je vraag…", send: "Versturen", person: "Met een medewerker spreken",
      greeting: "Hoi! Stel een vraag en ik antwoord vanuit ons helpcentrum.",
      handoff: "Een collega antwoordt je hier.", closed: "Dit gesprek is beëindigd.",
      restart: "Nieuw gesprek", typing: "Aan het typen…", sources: "Bronnen",
      helpful: "Nuttig", unhelpful: "Niet nuttig", thanks: "Bedankt voor je feedback.",
      you: "Jij", bot: "Assistent", agent: "Medewerker", retry: "Opnieuw proberen",
      offline: "Je lijkt offline te zijn. Controleer je verbinding en probeer het opnieuw.",
      limited: "Te veel berichten achter elkaar. Wacht {s} seconden en probeer het opnieuw.",
      unavailable: "De supportchat is nu niet beschikbaar. Probeer het zo nog eens.",
      unreachable: "We kunnen de supportchat vanaf deze pagina nu niet bereiken.",
      notAllowed: "De supportchat is niet beschikbaar op deze website.",
      refused: "Dit bericht kon niet worden verwerkt: {m}", log: "Gesprek",
    },
    zh: {
      title: "客服支持", subtitle: "有问题尽管问", open: "联系客服", close: "关闭聊天",
      placeholder: "请输入您的问题…", send: "发送", person: "转人工客服",
      greeting: "您好！请提出您的问题，我会根据帮助中心的内容为您解答。",
      handoff: "客服人员将在这里回复您。", closed: "本次对话已结束。",
      restart: "开始新对话", typing: "正在输入…", sources: "参考来源",
      helpful: "有帮助", unhelpful: "没有帮助", thanks: "感谢您的反馈。",
      you: "您", bot: "助手", agent: "客服", retry: "重试",
      offline: "您似乎已离线。请检查网络连接后重试。",
      limited: "消息发送过于频繁。请等待 {s} 秒后重试。",
      unavailable: "客服聊天暂时不可用，请稍后再试。",
      unreachable: "目前无法从此页面连接客服聊天。",
      notAllowed: "本网站未开通客服聊天。",
      refused: "无法处理这条消息：{m}", log: "对话记录",
    },
    ja: {
      title: "サポート", subtitle: "お気軽にご質問ください", open: "サポートとチャット", close: "チャットを閉じる",
      placeholder: "ご質問を入力してください…", send: "送信", person: "担当者と話す",
      greeting: "こんにちは！ご質問いただければ、ヘルプセンターの内容からお答えします。",
      handoff: "担当者がこちらで返信いたします。", closed: "この会話は終了しました。",
      restart: "新しい会話を始める", typing: "入力中…", sources: "参照元",
      helpful: "役に立った", unhelpful: "役に立たなかった", thanks: "フィードバックをありがとうございます。",
      you: "あなた", bot: "アシスタント", agent: "担当者", retry: "再試行",
      offline: "オフラインのようです。接続を確認してから、もう一度お試しください。",
      limited: "メッセージの送信が多すぎます。{s} 秒待ってから、もう一度お試しください。",
      unavailable: "現在サポートチャットをご利用いただけません。しばらくしてからお試しください。",
      unreachable: "現在このページからサポートチャットに接続できません。",
      notAllowed: "このウェブサイトではサポートチャットをご利用いただけません。",
      refused: "このメッセージを処理できませんでした：{m}", log: "会話",
    },
  };

  // What "Talk to a person" sends: the button's own words, in the widget's language. The answer
  // engine recognises a request for a person in each of these languages.

  const CSS = `
:host{all:initial;--c:#0b5fff;--on-c:#fff;--fg:#1a1d24;--muted:#59606e;--bg:#fff;--line:#d5d9e0;
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg)}
*{box-sizing:border-box}
button{font:inherit;cursor:pointer}
:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;
  border:0;background:var(--c);color:var(--on-c);box-shadow:0 4px 16px rgba(0,0,0,.25);display:grid;place-items:center}
.launcher svg{width:28px;height:28px;fill:currentColor}
.panel{position:fixed;right:20px;bottom:92px;z-index:2147483001;width:380px;height:min(620px,calc(100vh - 112px));
  background:var(--bg);border-radius:14px;box-shadow:0 8px 40px rgba(0,0,0,.28);display:flex;flex-direction:column;overflow:hidden}
.panel[hidden]{display:none}
header{background:var(--c);color:var(--on-c);padding:12px 14px;display:flex;align-items:center;gap:10px}
header h2{font-size:16px;margin:0;font-weight:650}
header p{margin:0;font-size:13px;opacity:.92}
header .x{margin-left:auto;background:transparent;border:0;color:inherit;font-size:24px;line-height:1;width:36px;height:36px;border-radius:8px}
.log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:#f6f7f9}
.msg{max-width:86%;padding:9px 12px;border-radius:12px;background:#fff;border:1px solid var(--line);overflow-wrap:anywhere}
.msg.customer{align-self:flex-end;background:var(--c);color:var(--on-c);border-color:transparent}
.msg.agent{border-left:4px solid #137333}
.who{display:block;font-size:12px;font-weight:650;color:var(--muted);margin-bottom:2px}
.customer .who{color:inherit;opacity:.9}
.msg p{margin:0 0 6px}.msg p:last-child{margin-bottom:0}
.msg ul,.msg ol{margin:4px 0 6px;padding-left:20px}
.msg code{font:13px ui-monospace,monospace;background:#eef0f3;padding:1px 4px;border-radius:4px}
.msg a{color:#0b4fd6}.customer a{color:inherit}
.cites{margin-top:8px;padding-top:6px;border-top:1px solid var(--line);font-size:13px}
.cites ul{margin:2px 0 0;padding-left:18px}
.fb{display:flex;gap:6px;margin-top:6px;align-items:center;font-size:13px;color:var(--muted)}
.fb button{border:1px solid var(--line);background:#fff;color:var(--muted);border-radius:8px;padding:4px 8px;display:grid}
.fb svg{width:16px;height:16px;fill:currentColor}
.fb button[aria-pressed=true]{background:var(--c);border-color:var(--c);color:var(--on-c)}
.typing{align-self:flex-start;color:var(--muted);font-size:13px;display:flex;gap:6px;align-items:center}
.typing i{width:7px;height:7px;border-radius:50%;background:var(--muted);animation:b 1s infinite}
.typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}
@keyframes b{0%,80%,100%{opacity:.25}40%{opacity:1}}
@media (prefers-reduced-motion:reduce){.typing i{animation:none}}
.banner{padding:9px 14px;background:#e6f4ea;color:#0d5323;font-weight:600;font-size:14px;border-top:1px solid #b7dfc3}
.banner button,.error button{margin-left:8px;border:1px solid currentColor;background:#fff;color:inherit;border-radius:8px;padding:2px 10px}
.error{padding:9px 14px;background:#fdecea;color:#8a1c12;font-size:14px;border-top:1px solid #f3c2bc}
.error[hidden],.banner[hidden],.person[hidden],form[hidden]{display:none}
form{display:flex;gap:8px;padding:10px;border-top:1px solid var(--line);background:#fff}
textarea{flex:1;resize:none;font:inherit;color:var(--fg);border:1px solid #8a919e;border-radius:10px;padding:8px 10px;height:42px;max-height:120px}
form button{border:0;background:var(--c);color:var(--on-c);border-radius:10px;padding:0 14px}
form button:disabled{opacity:.55;cursor:default}
.person{margin:0 10px 10px;background:#fff;border:1px solid var(--line);color:var(--fg);border-radius:10px;padding:7px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0}
  .launcher{right:14px;bottom:14px}}
`;

  // Icons as SVG paths, so they show without an emoji font.
  const ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    up: "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z",
    down: "M22 3h-4v12h4V3zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1l1.1 1 6.6-6.6c.4-.4.6-.9.6-1.4V5a2 2 0 0 0-2-2H7c-.8 0-1.5.5-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z",
  };

  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const shape = svg.appendChild(document.createElementNS(ns, "path"));
    shape.setAttribute("d", ICONS[name]);
    return svg;
  }

  /** Black or white, whichever reads better on a #rgb / #rrggbb background (white otherwise). */
  function textOn(color) {
    let hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color)?.[1];
    if (!hex) return "#fff";
    if (hex.length === 3) hex = hex.replace(/./g, "$&$&");
    const [r, g, b] = [0, 2, 4].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    // Contrast with white (1.05 / (L + .05)) against contrast with black ((L + .05) / .05).
    return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? "#fff" : "#111";
  }

  /** Build an element; `text` goes through textContent, never HTML. */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === false || value == null) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  /** An http(s) URL or null: javascript:, data: and friends never become links. */
  function safeUrl(raw) {
    try {
      const url = new URL(String(raw), location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function link(text, href) {
    const url = safeUrl(href);
    if (!url) return document.createTextNode(text);
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", text });
  }

  // Inline Markdown: `code`, **bold**, *em* / _em_, [text](url), bare http(s) URLs.
  const INLINE = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])|\*([^*\s][^*]*)\*|\b_([^_]+)_\b/g;

  function inline(text, parent) {
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      if (m[1] != null) parent.append(h("code", { text: m[1] }));
      else if (m[2] != null) inline(m[2], parent.appendChild(h("strong")));
      else if (m[3] != null) parent.append(link(m[3], m[4]));
      else if (m[5] != null) parent.append(link(m[5], m[5]));
      else inline(m[6] ?? m[7], parent.appendChild(h("em")));
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  /** Block Markdown (paragraphs, lists, headings as bold lines) into a fragment. */
  function markdown(source) {
    const out = document.createDocumentFragment();
    let list = null;
    let para = null;
    for (const raw of String(source).replace(/\r\n?/g, "\n").split("\n")) {
      const line = raw.trimEnd();
      const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
      const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      if (!line.trim()) {
        list = para = null;
        continue;
      }
      if (bullet || numbered) {
        const kind = bullet ? "ul" : "ol";
        if (!list || list.localName !== kind) list = out.appendChild(h(kind));
        para = null;
        inline((bullet || numbered)[1], list.appendChild(h("li")));
        continue;
      }
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      if (heading) {
        list = para = null;
        inline(heading[1], out.appendChild(h("p")).appendChild(h("strong")));
        continue;
      }
      if (list && /^\s{2,}/.test(raw)) {
        inline(" " + line.trim(), list.lastChild);
        continue;
      }
      list = null;
      if (para) para.append(h("br"));
      else para = out.appendChild(h("p"));
      inline(line.replace(/^>\s?/, ""), para);
    }
    return out;
  }

  class FathomChat extends HTMLElement {
    connectedCallback() {
      if (this.root) return;
      const attr = (name) => this.getAttribute(name) || this.getAttribute("data-" + name);
      this.workspace = attr("workspace") || "default";
      // data-locale also scopes the answers to that locale's articles; the browser's language
      // only picks the widget's own words.
      const locale = (attr("locale") || "").toLowerCase();
      this.locale = locale || null;
      this.t = STRINGS[(locale || navigator.language || "en").toLowerCase().split("-")[0]] || STRINGS.en;
      this.api = (attr("api") || location.origin).replace(/\/+$/, "");
      this.storageKey = `fathom:${this.api}:${this.workspace}`;
      this.messages = new Map(); // seq -> element
      this.busy = false;
      this.root = this.attachShadow({ mode: "open" });
      this.render(attr("color"));
      this.session = this.load();
      if (this.session) this.sync().catch(() => {});
      if (this.hasAttribute("open") || this.remembered("open")) this.open();
      addEventListener("online", () => this.error.hidden || this.retryAction?.());
    }

    disconnectedCallback() {
      this.stopLive();
    }

    render(color) {
      const t = this.t;
      let css = CSS;
      if (color && /^(#[0-9a-f]{3,8}|[a-z]+|rgb\([\d\s,%.]+\)|hsl\([\d\s,%.deg]+\))$/i.test(color)) {
        css += `:host{--c:${color};--on-c:${textOn(color)}}`;
      }
      // A constructed style sheet works under a host page's strict CSP (no 'unsafe-inline');
      // a <style> element is the fallback for browsers without them.
      let style = null;
      try {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(css);
        this.root.adoptedStyleSheets = [sheet];
      } catch {
        style = h("style", { text: css });
      }
      this.launcher = h("button", {
        class: "launcher", type: "button", "aria-label": t.open, "aria-expanded": "false",
        "aria-controls": "fathom-panel", onclick: () => (this.panel.hidden ? this.open() : this.close()),
      }, icon("chat"));
      this.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t.log, tabindex: "0" });
      this.banner = h("div", { class: "banner", role: "status", hidden: true });
      this.error = h("div", { class: "error", role: "alert", hidden: true });
      this.input = h("textarea", {
        rows: "1", placeholder: t.placeholder, "aria-label": t.placeholder, maxlength: "8000",
        onkeydown: (e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            this.form.requestSubmit();
          }
        },
      });
      this.sendButton = h("button", { type: "submit", text: t.send });
      this.form = h("form", {
        onsubmit: (e) => {
          e.preventDefault();
          const text = this.input.value.trim();
          if (text && !this.busy) this.send(text);
        },
      }, this.input, this.sendButton);
      this.personButton = h("button", {
        class: "person", type: "button", text: t.person, onclick: () => this.busy || this.send(t.person),
      });
      this.closeButton = h("button", { class: "x", type: "button", "aria-label": t.close, text: "×", onclick: () => this.close() });
      this.panel = h("div", {
        class: "panel", id: "fathom-panel", role: "dialog", "aria-modal": "false",
        "aria-labelledby": "fathom-title", hidden: true,
        onkeydown: (e) => {
          if (e.key === "Escape") {
            e.stopPropagation();
            this.close();
          }
        },
      },
        h("header", {}, h("div", {}, h("h2", { id: "fathom-title", text: t.title }), h("p", { text: t.subtitle })), this.closeButton),
        this.log, this.banner, this.error, this.form, this.personButton);
      this.greeting = h("div", { class: "msg bot" }, h("span", { class: "who", text: t.bot }), h("p", { text: t.greeting }));
      this.log.append(this.greeting);
      this.root.append(...(style ? [style] : []), this.launcher, this.panel);
    }

    /** Whether the panel was open in this tab before a reload (sessionStorage). */
    remembered(key, value) {
      try {
        if (value === undefined) return sessionStorage.getItem(`${this.storageKey}:${key}`) === "1";
        sessionStorage.setItem(`${this.storageKey}:${key}`, value ? "1" : "0");
      } catch {
        return false;
      }
    }

    open() {
      this.remembered("open", true);
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      this.input.focus();
      this.scrollDown();
      if (this.session) this.startLive();
    }

    close() {
      this.remembered("open", false);
      this.panel.hidden = true;
      this.launcher.setAttribute("aria-expanded", "false");
      this.stopLive();
      this.launcher.focus();
    }

    // --- storage -------------------------------------------------------------------------
    load() {
      try {
        const saved = JSON.parse(localStorage.getItem(this.storageKey) || "null");
        return saved && saved.id && saved.token ? saved : null;
      } catch {
        return null;
      }
    }

    save() {
      try {
        if (this.session) localStorage.setItem(this.storageKey, JSON.stringify(this.session));
        else localStorage.removeItem(this.storageKey);
      } catch {
        /* storage full or blocked: the conversation just won't survive a reload */
      }
    }

    // --- HTTP ----------------------------------------------------------------------------
    async request(method, path, body, accept) {
      const headers = { Accept: accept || "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (this.session) headers.Authorization = "Bearer " + this.session.token;
      let response;
      try {
        response = await fetch(this.api + path, {
          method, headers, body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "omit", mode: "cors",
        });
      } catch (cause) {
        if (cause.name === "AbortError") throw cause;
        throw { kind: navigator.onLine === false ? "offline" : "unreachable" };
      }
      if (response.ok) return response;
      let detail = {};
      try {
        detail = await response.json();
      } catch {
        /* not JSON */
      }
      const retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
      throw { kind: "http", status: response.status, code: detail.code, message: detail.message, retryAfter };
    }

    async ensureConversation() {
      if (this.session) return;
      const response = await this.request("POST", "/v1/conversations", {
        workspace: this.workspace, customer: this.locale ? { locale: this.locale } : {},
      });
      const created = await response.json();
      this.session = { id: created.conversation_id, token: created.customer_token };
      this.save();
      this.setState(created.state);
    }

    /** Re-read the transcript and add what the panel lacks. */
    async sync() {
      if (!this.session) return;
      try {
        const response = await this.request("GET", `/v1/conversations/${encodeURIComponent(this.session.id)}`);
        const view = await response.json();
        for (const message of view.messages || []) this.addMessage(message);
        this.setState(view.state);
        this.clearError();
      } catch (error) {
        if (error.kind === "http" && (error.status === 404 || error.status === 401)) return this.reset();
        this.showError(error, () => this.sync());
      }
    }

    async send(text) {
      this.busy = true;
      this.sendButton.disabled = true;
      this.clearError();
      const pending = this.customerBubble(text);
      this.input.value = "";
      const typing = this.log.appendChild(
        h("div", { class: "typing", "aria-label": this.t.typing }, h("i"), h("i"), h("i"), h("span", { class: "sr", text: this.t.typing })),
      );
      this.scrollDown();
      let streamed = null;
      let startOver = false;
      try {
        await this.ensureConversation();
        this.startLive();
        const response = await this.request(
          "POST", `/v1/conversations/${encodeURIComponent(this.session.id)}/messages`, { text }, "text/event-stream",
        );
        let outcome = null;
        if ((response.headers.get("Content-Type") || "").includes("text/event-stream")) {
          await readEvents(response, (name, data) => {
            if (name === "token") {
              const piece = JSON.parse(data).text || "";
              if (!streamed) {
                typing.remove();
                streamed = this.log.appendChild(h("div", { class: "msg bot", "aria-busy": "true" }, h("span", { class: "who", text: this.t.bot }), h("p")));
              }
              streamed.lastChild.append(piece);
              this.scrollDown();
            } else if (name === "reply") {
              outcome = JSON.parse(data);
            } else if (name === "error") {
              const failure = JSON.parse(data);
              throw { kind: "http", status: 500, code: failure.code, message: failure.message };
            }
          });
        } else {
          outcome = await response.json();
        }
        if (!outcome) throw { kind: "unreachable" };
        streamed?.remove();
        pending.remove();
        this.addMessage(outcome.message);
        if (outcome.reply) this.addMessage(outcome.reply);
        this.setState(outcome.state);
      } catch (error) {
        streamed?.remove();
        pending.remove();
        if (error.name === "AbortError") return;
        this.input.value = text;
        if (error.kind === "http" && error.code === "conversation_closed") {
          this.setState("closed");
        } else if (error.kind === "http" && error.status === 404 && this.session) {
          // The saved conversation is gone (e.g. the server's data was reset): start a new one.
          this.reset();
          startOver = true;
        } else {
          this.showError(error, () => this.send(text));
        }
      } finally {
        typing.remove();
        this.busy = false;
        this.sendButton.disabled = false;
        this.scrollDown();
      }
      if (startOver) return this.send(text);
      // Anything published while the reply streamed (an agent's message) is picked up here.
      if (this.session && this.error.hidden) this.sync();
    }

    async feedback(seq, rating, buttons, note) {
      try {
        await this.request("POST", `/v1/conversations/${encodeURIComponent(this.session.id)}/feedback`, { rating, message_seq: seq });
        for (const [value, button] of buttons) button.setAttribute("aria-pressed", String(value === rating));
        note.textContent = this.t.thanks;
        this.session.rated = { ...this.session.rated, [seq]: rating };
        this.save();
      } catch (error) {
        this.showError(error, () => this.feedback(seq, rating, buttons, note));
      }
    }

    // --- live updates: SSE over fetch (EventSource cannot send the token) ------------------
    startLive() {
      if (this.live || !this.session || this.panel.hidden) return;
      const controller = new AbortController();
      this.live = controller;
      const run = async () => {
        while (this.live === controller) {
          try {
            const response = await fetch(`${this.api}/v1/conversations/${encodeURIComponent(this.session.id)}/events`, {
              headers: { Accept: "text/event-stream", Authorization: "Bearer " + this.session.token },
              credentials: "omit", signal: controller.signal,
            });
            if (response.status === 404) return this.reset();
            if (!response.ok) throw new Error("status " + response.status);
            await this.sync();
            await readEvents(response, (name, data) => {
              if (name === "message") {
                const { message } = JSON.parse(data);
                // The customer's own messages and the bot's replies come back from send().
                if (message.role === "agent" || !this.busy) this.addMessage(message);
              } else if (name === "state") {
                this.setState(JSON.parse(data).state);
              } else if (name === "lagged") {
                this.sync();
              }
            });
          } catch (error) {
            if (controller.signal.aborted) return;
          }
          // The stream ended or failed: wait, catch up with a plain GET, reconnect.
          await new Promise((resolve) => setTimeout(resolve, 3000));
          if (this.live === controller) await this.sync();
        }
      };
      run();
    }

    stopLive() {
      this.live?.abort();
      this.live = null;
    }

    // --- rendering -----------------------------------------------------------------------
    customerBubble(text) {
      const node = h("div", { class: "msg customer" }, h("span", { class: "who sr", text: this.t.you }));
      node.append(markdown(text));
      return this.log.appendChild(node);
    }

    addMessage(message) {
      if (!message || this.messages.has(message.seq)) return;
      const t = this.t;
      const role = message.role === "customer" ? "customer" : message.role === "agent" ? "agent" : "bot";
      const who = role === "customer" ? t.you : role === "agent" ? message.author || t.agent : t.bot;
      const node = h("div", { class: "msg " + role, "data-seq": String(message.seq), "data-role": role },
        h("span", { class: role === "customer" ? "who sr" : "who", text: who }));
      node.append(markdown(message.text));
      const linked = new Set([...node.querySelectorAll("a")].map((a) => a.href));
      const citations = (message.citations || []).filter((c) => !linked.has(safeUrl(c.url)));
      if (citations.length) {
        const list = h("ul");
        for (const citation of citations) {
          list.append(h("li", {}, citation.url ? link(citation.title || citation.url, citation.url) : citation.title));
        }
        node.append(h("div", { class: "cites" }, h("span", { text: t.sources }), list));
      }
      if (role === "bot" && message.decision === "answer") {
        const note = h("span", { "aria-live": "polite" });
        const buttons = [];
        const rated = this.session?.rated?.[message.seq];
        for (const [rating, label] of [["up", t.helpful], ["down", t.unhelpful]]) {
          const button = h("button", {
            type: "button", "aria-label": label, title: label, "aria-pressed": String(rated === rating),
            "data-rating": rating, onclick: () => this.feedback(message.seq, rating, buttons, note),
          }, icon(rating));
          buttons.push([rating, button]);
        }
        node.append(h("div", { class: "fb" }, ...buttons.map(([, b]) => b), note));
      }
      // Keep the transcript in order even if a live event overtakes a reply.
      const after = [...this.messages.entries()].filter(([seq]) => seq > message.seq).sort((a, b) => a[0] - b[0])[0];
      this.messages.set(message.seq, node);
      if (after) this.log.insertBefore(node, after[1]);
      else this.log.insertBefore(node, this.log.querySelector(".typing,.msg.customer:not([data-seq]),.msg[aria-busy]"));
      this.scrollDown();
    }

    setState(state) {
      if (!state) return;
      this.state = state;
      const t = this.t;
      this.banner.replaceChildren();
      const ended = state === "closed" || state === "resolved";
      if (state === "handed_off" || state === "human") {
        this.banner.append(t.handoff);
      } else if (state === "closed") {
        this.banner.append(t.closed, h("button", { type: "button", text: t.restart, onclick: () => this.reset(true) }));
      }
      this.banner.hidden = !(state === "handed_off" || state === "human" || state === "closed");
      this.personButton.hidden = state !== "bot" && !ended;
      this.form.hidden = state === "closed";
      if (state === "closed") this.personButton.hidden = true;
    }

    /** Forget the conversation (gone from the server, or the customer starts over). */
    reset(focus) {
      this.stopLive();
      this.session = null;
      this.save();
      for (const node of this.messages.values()) node.remove();
      this.messages.clear();
      this.setState("bot");
      if (focus) this.input.focus();
    }

    showError(error, retry) {
      const t = this.t;
      let text;
      if (error.kind === "offline") text = t.offline;
      else if (error.kind === "unreachable") text = t.unreachable;
      else if (error.code === "origin_not_allowed") text = t.notAllowed;
      else if (error.status === 429) text = t.limited.replace("{s}", String(error.retryAfter > 0 ? error.retryAfter : 10));
      else if (error.status >= 500 || !error.status) text = t.unavailable;
      else text = t.refused.replace("{m}", error.message || error.code || String(error.status));
      this.retryAction = () => {
        this.clearError();
        retry();
      };
      const button = h("button", { type: "button", text: t.retry, onclick: this.retryAction });
      this.error.replaceChildren(text, button);
      this.error.hidden = false;
      this.error.dataset.kind = error.status === 429 ? "rate_limited" : error.kind === "http" ? error.code || "http" : error.kind;
      if (error.status === 429 && error.retryAfter > 0) {
        button.disabled = true;
        setTimeout(() => (button.disabled = false), error.retryAfter * 1000);
      }
    }

    clearError() {
      this.error.hidden = true;
      this.error.replaceChildren();
      this.retryAction = null;
    }

    scrollDown() {
      this.log.scrollTop = this.log.scrollHeight;
    }
  }

  /** Read a text/event-stream body, calling `onEvent(name, data)` per event. */
  async function readEvents(response, onEvent) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const content = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") name = content;
          else if (field === "data") data.push(content);
        }
        if (data.length) onEvent(name, data.join("\n"));
      }
    }
  }

  customElements.define(TAG, FathomChat);

  function install() {
    const element = document.createElement(TAG);
    // The API lives beside the script (behind a path prefix too, e.g. /support/widget.js).
    const base = script && script.src ? new URL(".", new URL(script.src, location.href)).href : location.origin;
    element.setAttribute("api", (script && script.dataset.api) || base);
    for (const name of ["workspace", "locale", "color", "open"]) {
      const value = script && script.dataset[name];
      if (value != null) element.setAttribute(name, value);
    }
    document.body.append(element);
  }
  if (script && script.dataset.workspace) {
    if (document.body) install();
    else addEventListener("DOMContentLoaded", install);
  }
})();
