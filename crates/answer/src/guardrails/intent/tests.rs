use super::*;

#[test]
fn explicit_requests_for_a_person_are_recognised() {
    let requests = [
        "Can I talk to a person?",
        "I want to speak to a human",
        "speak to someone please",
        "Let me speak with an agent.",
        "Can you connect me to support staff?",
        "Is this a real person?",
        "I want a human!",
        "I need an agent now",
        "operator",
        "Agent please!!",
        "Is there a live chat with an agent?",
        "transfer me to a representative",
        "Please escalate this to a manager.",
        "get me a supervisor",
        "Can you tell me how I can contact a customer service representative?",
        "I'd like to talk with customer service",
        "Is there anyone I can talk to about my bill?",
        "Can I get a HUMAN AGENT on this",
    ];
    let missed: Vec<&str> = requests
        .into_iter()
        .filter(|request| !wants_human(request))
        .collect();

    assert!(missed.is_empty(), "missed: {missed:#?}");
}

#[test]
fn mentions_of_people_agents_and_humans_that_are_not_requests_are_ignored() {
    let questions = [
        "How do I add a person to my team?",
        "Where are the agent settings?",
        "How do I enable the human resources module?",
        "What is the procedure to assess annotation agreement between human annotators in Knowledge Studio?",
        "How do I transfer a ticket to another agent?",
        "Can customers chat with an agent from the widget?",
        "I don't need to talk to a human, just tell me the steps.",
        "Can it be used for personal purposes?",
        "What are query operators?",
        "How do I connect my account to Slack?",
        "Who is the person responsible for billing on my account?",
        "How do I install additional application server instances for an existing SAP system?",
    ];
    let flagged: Vec<&str> = questions
        .into_iter()
        .filter(|question| wants_human(question))
        .collect();

    assert!(flagged.is_empty(), "false positives: {flagged:#?}");
}

#[test]
fn strong_negative_phrases_are_frustration() {
    for (text, kind) in [
        ("This is useless.", FrustrationKind::NegativePhrase),
        ("It's pointless", FrustrationKind::NegativePhrase),
        ("you’re useless", FrustrationKind::NegativePhrase),
        ("your answers are garbage", FrustrationKind::NegativePhrase),
        (
            "that was not helpful at all",
            FrustrationKind::NegativePhrase,
        ),
        ("You're not helping", FrustrationKind::NegativePhrase),
        ("this is ridiculous", FrustrationKind::NegativePhrase),
        ("what a waste of time", FrustrationKind::NegativePhrase),
        (
            "Terrible service, honestly",
            FrustrationKind::NegativePhrase,
        ),
        ("wtf is going on", FrustrationKind::NegativePhrase),
        ("It still doesn't work", FrustrationKind::StillNotWorking),
        ("I already tried that", FrustrationKind::StillNotWorking),
        (
            "I already told you my order number",
            FrustrationKind::AlreadySaid,
        ),
        (
            "for the third time, the TV has no sound",
            FrustrationKind::AlreadySaid,
        ),
        ("WHY IS THIS NOT WORKING", FrustrationKind::Shouting),
        ("PLEASE FIX MY ACCOUNT NOW", FrustrationKind::Shouting),
        (
            "i paid and I STILL CAN NOT LOG IN",
            FrustrationKind::StillNotWorking,
        ),
        ("where is my refund!!!", FrustrationKind::ExclamationRun),
        ("seriously?!?!", FrustrationKind::ExclamationRun),
    ] {
        let signal = frustration(text);
        assert_eq!(
            signal.as_ref().map(|signal| signal.kind),
            Some(kind),
            "{text:?} gave {signal:?}"
        );
    }
}

#[test]
fn calm_questions_and_problem_reports_are_not_frustration() {
    for text in [
        "How do I reset sound settings?",
        "The restart didn't help, what should I try next?",
        "If the picture is good but there is no sound, what do I do?",
        "Is the price still the same next year?",
        "In the worst case, how long does a restore take?",
        "My TV HDMI ARC CEC setup shows NO SIGNAL.",
        "Thanks! That fixed it!",
        "What do you mean by turning on \"Defense mode\" ?",
        "Is it helpful to update the firmware first?",
    ] {
        assert_eq!(frustration(text), None, "{text:?}");
    }
}

#[test]
fn frustration_evidence_is_the_phrase_that_matched() {
    let signal = frustration("Honestly this is completely useless, bye");

    assert_eq!(
        signal,
        Some(FrustrationSignal {
            kind: FrustrationKind::NegativePhrase,
            evidence: "this is completely useless".into(),
        })
    );
}

#[test]
fn the_same_question_asked_again_in_other_words_is_a_repeat() {
    let earlier = ["Hi there", "How do I change the picture mode on my TV?"];

    assert!(is_repeated_question(
        "how can I change picture mode on the TV",
        &earlier
    ));
    assert!(is_repeated_question(
        "HOW DO I CHANGE THE PICTURE MODE ON MY TV??",
        &earlier
    ));
}

#[test]
fn a_different_question_is_not_a_repeat() {
    let earlier = ["How do I change the picture mode on my TV?"];

    assert!(!is_repeated_question(
        "How do I change the sound mode on my soundbar?",
        &earlier
    ));
    assert!(!is_repeated_question(
        "How do I change the picture mode?",
        &[]
    ));
}

#[test]
fn short_messages_are_never_repeats() {
    let earlier = ["yes thanks", "ok", "what about TVs?"];

    assert!(!is_repeated_question("yes thanks", &earlier));
    assert!(!is_repeated_question("what about TVs?", &earlier));
}

#[test]
fn content_words_drop_stop_words_case_apostrophes_and_plural_s() {
    let words = content_words("How do I update the Drivers? Don't the settings change?");

    let mut sorted: Vec<String> = words.into_iter().collect();
    sorted.sort();
    assert_eq!(sorted, ["change", "driver", "setting", "update"]);
}

#[test]
fn every_built_in_pattern_compiles() {
    for pattern in [
        &JUST_ASKING_FOR_A_HUMAN,
        &ASK_FOR_HUMAN,
        &NEGATED,
        &SOMEONE_ELSE_ASKS,
        &NEGATIVE_PHRASE,
        &STILL_NOT_WORKING,
        &ALREADY_SAID,
        &EXCLAMATION_RUN,
    ] {
        LazyLock::force(pattern);
    }
}

#[test]
fn requests_for_a_person_are_recognised_in_other_languages() {
    let requests = [
        "Kann ich bitte mit einem Mitarbeiter sprechen?",
        "Ich möchte mit einem echten Menschen reden",
        "Verbinden Sie mich bitte mit dem Kundendienst",
        "Mitarbeiter bitte",
        "Quiero hablar con una persona",
        "¿Puedo hablar con un agente?",
        "Pásame con un asesor por favor",
        "Je voudrais parler à un conseiller",
        "Mettez-moi en relation avec le service client",
        "Quero falar com um atendente",
        "Posso parlare con un operatore?",
        "Ik wil graag met een medewerker spreken",
        "我要转人工",
        "请帮我联系客服",
        "人工客服",
        "オペレーターと話したいです",
        "担当者につないでください",
    ];
    let missed: Vec<&str> = requests
        .into_iter()
        .filter(|request| !wants_human(request))
        .collect();

    assert!(missed.is_empty(), "missed: {missed:#?}");
}

#[test]
fn product_questions_and_refusals_in_other_languages_are_not_requests() {
    let not_requests = [
        "Wie füge ich einen Mitarbeiter zu meinem Team hinzu?",
        "Ich möchte nicht mit einem Menschen sprechen",
        "¿Cómo agrego un agente a mi equipo?",
        "No quiero hablar con una persona",
        "Comment ajouter un agent à mon équipe ?",
        "Como adiciono um atendente à minha conta?",
        "Come posso aggiungere un operatore al mio team?",
        "Hoe voeg ik een medewerker toe?",
        "客服团队如何添加新成员？",
        "不需要人工",
        "担当者の権限を変更する方法",
    ];
    let wrongly: Vec<&str> = not_requests
        .into_iter()
        .filter(|text| wants_human(text))
        .collect();

    assert!(
        wrongly.is_empty(),
        "wrongly taken as requests: {wrongly:#?}"
    );
}
