"""Unit tests of the pure rule engine: content extraction, normalisation, PII detectors,
policy parsing, matching, screening, masking and the review state machine."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from services.safety_moderation import domain
from services.safety_moderation.config import DEFAULT_POLICY_PATH
from services.safety_moderation.tests.factories import model

DEFAULT = domain.parse_policy(DEFAULT_POLICY_PATH.read_bytes())


def policy(yaml_text: str) -> domain.Policy:
    return domain.parse_policy(textwrap.dedent(yaml_text).encode())


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start:s.end]) for s in domain.pii_spans(text)]


def rule_ids(text: str, p: domain.Policy = DEFAULT) -> list[str]:
    return [m.rule_id for m in domain.find_matches(p, text)]


# --- content carried by events -----------------------------------------------------------------


@pytest.mark.parametrize(("event_type", "id_field", "text_field"), [
    ("buddy.feedback.submitted.v1", "feedback_id", "text"),
    ("buddy.checkin.completed.v1", "checkin_id", "notes"),
    ("kintell.session.completed.v1", "session_id", "notes"),
    ("kintell.rating.created.v1", "rating_id", "comment"),
])
def test_content_of_reads_the_record_id_and_its_free_text(event_type, id_field, text_field):
    data = model(event_type, "C-7", text="I felt welcome")
    assert getattr(data, id_field) == "C-7"
    assert domain.content_of(event_type, data) == ("C-7", "I felt welcome")
    assert domain.content_of(event_type, model(event_type, "C-8", text=None)) == ("C-8", None)
    assert domain.content_of(event_type, model(event_type, "C-9", text="  \n ")) == ("C-9", None)


@pytest.mark.parametrize(("event_type", "author_field"), [
    ("buddy.feedback.submitted.v1", "participant"),
    ("buddy.checkin.completed.v1", "participant"),
    ("kintell.session.completed.v1", "participant"),
    ("kintell.rating.created.v1", "rated_by"),
])
def test_author_of_is_the_ref_of_the_person_who_wrote_the_text(event_type, author_field):
    data = model(event_type, "C-7", text="I felt welcome", **{author_field: {"system": "crm", "id": "P-9"}})
    assert domain.author_of(event_type, data) == ("crm", "P-9")


def test_buddy_feedback_from_the_buddy_is_filed_under_the_participant():
    data = model("buddy.feedback.submitted.v1", "F-1", text="Great match", from_role="buddy",
                 participant={"system": "buddy", "id": "P-1"})
    assert domain.author_of("buddy.feedback.submitted.v1", data) == ("buddy", "P-1")


def test_content_digest_is_the_sha256_of_the_exact_text():
    assert domain.content_digest("Hei!") == hashlib.sha256(b"Hei!").hexdigest()
    assert domain.content_digest(None) == domain.content_digest("") == hashlib.sha256(b"").hexdigest()
    assert domain.content_digest("a") != domain.content_digest("a ")


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("Kill MYSELF", "kill myself"),
    ("kill \n\t  myself", "kill myself"),
    ("self-harm", "self harm"),
    ("self_harm", "self harm"),
    ("self\u2013harm", "self harm"),
    ("ki\u200bll my\u00adself", "kill myself"),
    ("ＫＩＬＬ", "kill"),  # full-width
    ("Sélf Hårm", "self harm"),
    ("ﬁne", "fine"),  # ligature
    ("Straße", "strasse"),
    ("don\u2019t", "don't"),
])
def test_normalise(raw, expected):
    assert domain.normalise(raw).text == expected


def test_normalised_offsets_point_back_at_the_original_characters():
    raw = "Ｉ  wánt-to  ＤＩＥ"
    norm = domain.normalise(raw)
    start = norm.text.index("die")
    s, e = norm.original_span(start, start + 3)
    assert raw[s:e] == "ＤＩＥ"
    s, e = norm.original_span(norm.text.index("want"), norm.text.index("want") + 4)
    assert raw[s:e] == "wánt"


# --- PII detectors -------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["jane.doe@example.com", "J.Doe+tag@Mail.Example.CO.UK", "ola_nordmann@firma.no"])
def test_emails_are_found(email):
    assert kinds(f"write to {email}, thanks") == [("email", email)]


@pytest.mark.parametrize("text", ["user@localhost", "a @ b.com", "@handle on social media", "size 3@4.5"])
def test_things_that_are_not_emails(text):
    assert [k for k, _ in kinds(text) if k == "email"] == []


@pytest.mark.parametrize("phone", [
    "+47 912 34 567", "91234567", "912 34 567", "+44 (0)20 7946 0958", "0047 91234567", "22-33-44-55", "(+47) 91234567",
])
def test_phone_numbers_are_found(phone):
    assert ("phone" in {k for k, _ in kinds(f"call me on {phone} tonight")})
    spans = [v for k, v in kinds(f"call me on {phone} tonight") if k == "phone"]
    assert len(spans) == 1 and spans[0].lstrip("(") in phone and all(d in spans[0] for d in phone if d.isdigit())


@pytest.mark.parametrize("text", [
    "we met on 2024-03-04",
    "we met on 2024-03-04 10:30 at the library",
    "from 10.30 - 11.45",
    "on 04.03.2024 we talked",
    "code 1234567 has seven digits",
    "level B1 after 12 sessions in 3 months",
])
def test_dates_times_short_numbers_and_codes_are_not_phones(text):
    assert kinds(text) == []


def test_digits_glued_to_a_word_are_no_phone_but_long_runs_are_still_masked():
    assert kinds("room A1234 and code 1234b") == []
    assert kinds("room A12345678 and 12345678abc") == [("number", "12345678"), ("number", "12345678")]
    assert domain.find_matches(DEFAULT, "room A12345678") == ()
    assert domain.mask_pii("tlf91234567") == "tlf[NUMBER]"


def test_two_phone_numbers_in_a_row_are_both_phones():
    text = "+47 400 00 000 40000000"
    assert [(k, v) for k, v in kinds(text) if k == "phone"] == [("phone", "+47 400 00 000"), ("phone", "40000000")]
    assert domain.mask_pii(text) == "[PII]"  # the whole run is masked (as a number and two phones)


def test_digits_of_an_iban_or_email_do_not_swallow_a_following_phone():
    text = "NO93 8601 1117 947 91234567 and ola1234567890@example.no 91234567"
    assert kinds(text) == [("iban", "NO93 8601 1117 947"), ("phone", "91234567"), ("email", "ola1234567890@example.no"),
                           ("phone", "91234567")]


def test_a_phone_next_to_a_date_is_still_found():
    assert kinds("2024-03-04 91234567") == [("phone", "91234567")]


def test_long_digit_runs_are_masked_whole_and_their_phone_sized_pieces_still_count():
    text = "card 4111 1111 1111 1111 ok"
    assert kinds(text) == [("phone", "4111 1111 1111"), ("number", "4111 1111 1111 1111")]
    assert [m.rule_id for m in domain.find_matches(DEFAULT, text)] == ["pii-phone"]
    assert domain.mask_pii(text) == "card [PII] ok"
    # One unbroken group of more than 15 digits is no phone, but it is masked.
    assert kinds("ref 12345678901234567890") == [("number", "12345678901234567890")]
    assert domain.find_matches(DEFAULT, "ref 12345678901234567890") == ()
    assert domain.mask_pii("ref 12345678901234567890") == "ref [NUMBER]"


@pytest.mark.parametrize("national_id", ["01019912345", "010199 12345", "19900101-1234", "900101-1234", "123-45-6789",
                                         "AB 12 34 56 C", "ab123456c"])
def test_national_id_like_numbers_are_found(national_id):
    assert ("national_id", national_id) in kinds(f"my id is {national_id}.")


@pytest.mark.parametrize("iban", ["NO93 8601 1117 947", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
                                  "gb82 west 1234 5698 7654 32"])
def test_ibans_with_a_valid_checksum_are_found(iban):
    assert ("iban", iban) in kinds(f"pay to {iban} please")


def test_iban_like_text_with_a_bad_checksum_is_not_an_iban():
    assert "iban" not in {k for k, _ in kinds("pay to DE00 3704 0044 0532 0130 00")}
    assert domain.iban_checksum_ok("NO9386011117947")
    assert not domain.iban_checksum_ok("NO9386011117948")
    assert not domain.iban_checksum_ok("NO93")


def test_an_eleven_digit_number_is_both_phone_shaped_and_a_national_id():
    assert sorted(k for k, _ in kinds("id 01019912345")) == ["national_id", "phone"]


# --- policy parsing ------------------------------------------------------------------------------


def test_the_default_policy_is_valid_and_covers_every_category_and_detector():
    assert DEFAULT.version == hashlib.sha256(DEFAULT_POLICY_PATH.read_bytes()).hexdigest()
    assert {r.category for r in DEFAULT.rules} == set(domain.KNOWN_CATEGORIES)
    assert {r.pii for r in DEFAULT.rules if r.kind == "pii"} == set(domain.PII_DETECTORS)
    assert {r.kind for r in DEFAULT.rules} == {"keywords", "regex", "pii"}
    assert len({r.id for r in DEFAULT.rules}) == len(DEFAULT.rules)


def test_policy_version_is_the_hash_of_the_bytes_so_any_edit_changes_it():
    text = "rules:\n  - {id: a, category: abuse, severity: low, action: flag, keywords: [x]}\n"
    assert policy(text).version == domain.policy_version(text.encode())
    assert policy(text + "# a comment\n").version != policy(text).version


def errors_of(yaml_text: str | bytes) -> tuple[str, ...]:
    raw = yaml_text if isinstance(yaml_text, bytes) else textwrap.dedent(yaml_text).encode()
    with pytest.raises(domain.PolicyError) as caught:
        domain.parse_policy(raw)
    return caught.value.errors


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("rules: [unclosed", "not valid YAML at line 1"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("name: x\n", "rules: Field required"),
    ("rules: []\n", "rules: List should have at least 1 item"),
    ("rules:\n  - {id: a, category: abuse, severity: extreme, action: flag, keywords: [x]}\n",
     "rules[0] (id 'a').severity: Input should be 'low', 'medium', 'high' or 'critical'"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: delete, keywords: [x]}\n", "action: Input should be 'flag' or 'hold'"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: flag, keywords: [x], regex: y}\n",
     "exactly one of keywords, regex or pii (got keywords, regex)"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: flag}\n", "exactly one of keywords, regex or pii (got none)"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: flag, keywords: []}\n", "keywords: List should have at least 1 item"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: flag, keywords: [x], colour: red}\n",
     "colour: Extra inputs are not permitted"),
    ("rules:\n  - {id: a, category: pii_leak, severity: low, action: flag, pii: passport}\n", "pii: Input should be"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: flag, regex: '(unclosed'}\n",
     "rule 'a': regex does not compile: missing )"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: flag, regex: 'x*'}\n", "rule 'a': regex matches the empty string"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: flag, keywords: ['\u200b']}\n", "empty after normalisation"),
    ("rules:\n  - {id: a, category: abuse, severity: low, action: flag, keywords: [x], case_sensitive: true}\n",
     "case_sensitive applies to regex rules only"),
    ("rules:\n  - {id: a, category: abuse, severity: 3, action: flag, keywords: [x]}\n", "severity: Input should be"),
    ("rules:\n  - {id: Bad Id, category: abuse, severity: low, action: flag, keywords: [x]}\n", "id: String should match pattern"),
    ("rules:\n  - {id: a, category: Abuse!, severity: low, action: flag, keywords: [x]}\n", "category: String should match pattern"),
])
def test_invalid_policies_are_rejected_with_a_clear_error(yaml_text, expected):
    errors = errors_of(yaml_text)
    assert any(expected in e for e in errors), errors


def test_every_problem_of_a_policy_is_reported_at_once():
    errors = errors_of("""
        rules:
          - {id: a, category: abuse, severity: low, action: flag, regex: '(bad'}
          - {id: a, category: abuse, severity: low, action: flag, keywords: [x]}
          - {id: b, category: abuse, severity: low, action: flag, regex: '.?'}
    """)
    assert len(errors) == 3
    assert any("'a': regex does not compile" in e for e in errors)
    assert any("rule id 'a' is used more than once" in e for e in errors)
    assert any("'b': regex matches the empty string" in e for e in errors)


def test_a_policy_that_is_not_utf8_is_rejected():
    assert "not UTF-8" in errors_of(b"rules: \xff\xfe")[0]


# --- keyword matching ----------------------------------------------------------------------------

KEYWORDS = policy("""
    rules:
      - id: sh
        category: self_harm
        severity: critical
        action: hold
        keywords: [kill myself, suicide, self-harm]
      - id: insult
        category: abuse
        severity: low
        action: flag
        keywords: [idiot, kill]
""")


@pytest.mark.parametrize(("text", "expected"), [
    ("I want to kill myself", ["insult", "sh"]),
    ("I WANT TO KILL MYSELF", ["insult", "sh"]),
    ("I want to Kill\n  Myself.", ["insult", "sh"]),
    ("I want to k\u200bill myself", ["insult", "sh"]),
    ("ＫＩＬＬ ＭＹＳＥＬＦ", ["insult", "sh"]),
    ("thoughts of suicide", ["sh"]),
    ("Suicide!", ["sh"]),
    ("(suicide)", ["sh"]),
    ("self harm", ["sh"]),
    ("self-harm", ["sh"]),
    ("self_harm", ["sh"]),
    ("sélf-hárm", ["sh"]),
    ("you idiot", ["insult"]),
    ("you idiot!!", ["insult"]),
    ("idiotic plan", []),  # word boundary at the end
    ("skill myself up", []),  # word boundary at the start
    ("suicides", []),
    ("prosuicide", []),
    ("kill", ["insult"]),
    ("killmyself", []),
])
def test_keywords_match_whole_words_case_insensitively_on_normalised_text(text, expected):
    assert sorted(rule_ids(text, KEYWORDS)) == expected  # "kill" (insult) sits inside "kill myself" (sh)


def test_the_longest_keyword_of_a_rule_wins_and_other_rules_still_match_overlapping_text():
    matches = domain.find_matches(KEYWORDS, "I will kill myself")
    # "kill myself" (rule sh) and "kill" (rule insult) overlap: both are reported.
    assert [(m.rule_id, "I will kill myself"[m.start:m.end]) for m in matches] == [("insult", "kill"), ("sh", "kill myself")]


def test_every_occurrence_is_a_match_with_its_original_span():
    text = "Idiot. IDIOT? idiot"
    matches = domain.find_matches(KEYWORDS, text)
    assert [text[m.start:m.end] for m in matches] == ["Idiot", "IDIOT", "idiot"]


def test_disabled_rules_do_not_match():
    p = policy("rules:\n  - {id: a, category: abuse, severity: low, action: flag, keywords: [idiot], enabled: false}\n")
    assert domain.find_matches(p, "idiot") == ()


# --- regex and pii rules -------------------------------------------------------------------------


def test_regexes_are_case_insensitive_unless_asked_otherwise():
    p = policy(r"""
        rules:
          - {id: ci, category: harassment, severity: high, action: hold, regex: '\bi will hurt you\b'}
          - {id: cs, category: abuse, severity: low, action: flag, regex: '\bSHOUTING\b', case_sensitive: true}
    """)
    assert rule_ids("I WILL HURT YOU", p) == ["ci"]
    assert rule_ids("stop SHOUTING", p) == ["cs"]
    assert rule_ids("stop shouting", p) == []


def test_pii_rules_use_the_builtin_detectors():
    text = "mail ola@example.no, phone +47 912 34 567, id 01019912345, iban NO93 8601 1117 947"
    got = [(m.rule_id, m.pii, text[m.start:m.end]) for m in domain.find_matches(DEFAULT, text)]
    assert ("pii-email", "email", "ola@example.no") in got
    assert ("pii-phone", "phone", "+47 912 34 567") in got
    assert ("pii-national-id", "national_id", "01019912345") in got
    assert ("pii-phone", "phone", "01019912345") in got  # overlapping: both detectors report it
    assert ("pii-iban", "iban", "NO93 8601 1117 947") in got


# --- screening -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "Thanks, the session was great and I learned a lot.",
                                  "We practised Norwegian B1 on 2024-03-04 for 45 minutes."])
def test_clean_or_missing_text_is_clear_and_keeps_nothing(text):
    result = domain.screen(DEFAULT, text)
    assert (result.outcome, result.verdict, result.matches) == ("clear", "clear", ())
    assert result.masked_text is None and result.excerpt is None and not result.needs_review
    assert result.policy_version == DEFAULT.version
    assert result.content_sha256 == domain.content_digest(text)


@pytest.mark.parametrize(("text", "outcome", "category", "severity", "rule"), [
    ("Some days I want to kill myself.", "held", "self_harm", "critical", "self-harm-phrases"),
    ("Honestly I don't want to live anymore", "held", "self_harm", "high", "self-harm-regex"),
    ("you are an idiot", "flagged", "abuse", "low", "abuse-insults"),
    ("I know where you live", "held", "harassment", "high", "harassment-threats"),
    ("go back to your country", "held", "harassment", "medium", "harassment-words"),
    ("reach me at ola@example.no", "held", "pii_leak", "medium", "pii-email"),
    ("ring 912 34 567", "held", "pii_leak", "medium", "pii-phone"),
    ("fnr 01019912345", "held", "pii_leak", "high", "pii-national-id"),
    ("konto NO93 8601 1117 947", "held", "pii_leak", "high", "pii-iban"),
])
def test_each_category_of_the_default_policy(text, outcome, category, severity, rule):
    result = domain.screen(DEFAULT, text)
    assert result.outcome == outcome
    assert result.verdict == ("held" if outcome == "held" else "clear")
    assert (result.primary.category, result.severity, result.primary.rule_id) == (category, severity, rule)
    assert result.needs_review and result.masked_text and result.excerpt


def test_severity_is_the_max_and_the_primary_match_is_the_most_severe():
    result = domain.screen(DEFAULT, "you idiot, call 912 34 567, I want to kill myself")
    assert result.severity == "critical"
    assert result.primary.rule_id == "self-harm-phrases"
    assert {m.rule_id for m in result.matches} == {"abuse-insults", "pii-phone", "self-harm-phrases"}
    assert result.outcome == "held"


def test_only_flag_rules_matching_is_flagged_not_held_and_one_hold_rule_is_enough():
    p = policy("""
        rules:
          - {id: crit-flag, category: abuse, severity: critical, action: flag, keywords: [awful]}
          - {id: low-hold, category: abuse, severity: low, action: hold, keywords: [meh]}
    """)
    assert domain.screen(p, "awful").outcome == "flagged"
    both = domain.screen(p, "meh, awful")
    assert both.outcome == "held" and both.severity == "critical" and both.primary.rule_id == "crit-flag"


def test_ties_go_to_hold_then_to_the_earliest_match_then_to_the_first_rule():
    p = policy("""
        rules:
          - {id: r1, category: abuse, severity: high, action: flag, keywords: [alpha]}
          - {id: r2, category: harassment, severity: high, action: hold, keywords: [beta]}
          - {id: r3, category: abuse, severity: high, action: hold, keywords: [gamma]}
          - {id: r4, category: abuse, severity: high, action: hold, keywords: [gamma]}
    """)
    assert domain.screen(p, "alpha beta").primary.rule_id == "r2"
    assert domain.screen(p, "gamma beta").primary.rule_id == "r3"
    assert domain.screen(p, "beta gamma").primary.rule_id == "r2"
    assert domain.primary_match([]) is None


def test_max_severity():
    assert domain.max_severity(["low", "critical", "medium"]) == "critical"
    assert domain.max_severity(["medium", "high"]) == "high"
    assert domain.max_severity([]) is None


# --- masking -------------------------------------------------------------------------------------


def test_pii_is_masked_in_the_stored_text_and_the_excerpt():
    text = "I feel unsafe, please call me on +47 912 34 567 or mail ola.nordmann@example.no; fnr 01019912345."
    result = domain.screen(DEFAULT, text)
    for raw in ("+47 912 34 567", "912 34 567", "ola.nordmann@example.no", "01019912345", "nordmann"):
        assert raw not in result.masked_text and raw not in result.excerpt
    assert result.masked_text == "I feel unsafe, please call me on [PHONE] or mail [EMAIL]; fnr [PII]."


def test_pii_is_masked_even_when_the_policy_has_no_pii_rule():
    p = policy("rules:\n  - {id: sh, category: self_harm, severity: critical, action: hold, keywords: [suicide]}\n")
    result = domain.screen(p, "thinking of suicide, text me at 91234567 or jo@example.org")
    assert [m.rule_id for m in result.matches] == ["sh"]
    assert result.masked_text == "thinking of suicide, text me at [PHONE] or [EMAIL]"


def test_matches_of_a_custom_pii_leak_rule_are_masked_too():
    p = policy(r"""
        rules:
          - {id: member-no, category: pii_leak, severity: high, action: hold, regex: 'member\s+no\.?\s*\w+'}
    """)
    result = domain.screen(p, "my member no. X99Z is private")
    assert result.masked_text == "my [PII] is private"
    assert "X99Z" not in result.excerpt


def test_non_pii_matches_stay_readable_for_the_reviewer():
    result = domain.screen(DEFAULT, "You IDIOT")
    assert result.masked_text == "You IDIOT" and result.excerpt == "You IDIOT"


def test_overlapping_redactions_merge_and_disagreeing_labels_become_pii():
    merged = domain.merge_redactions([
        domain.Redaction(5, 10, "[PHONE]"), domain.Redaction(8, 12, "[NATIONAL_ID]"), domain.Redaction(20, 25, "[EMAIL]"),
        domain.Redaction(21, 23, "[EMAIL]"), domain.Redaction(30, 30, "[EMAIL]"),
    ])
    assert merged == [domain.Redaction(5, 12, "[PII]"), domain.Redaction(20, 25, "[EMAIL]")]


def test_the_excerpt_is_a_masked_window_around_the_primary_match():
    text = "a" * 300 + " I want to kill myself " + "call 91234567 " + "b" * 300
    result = domain.screen(DEFAULT, text, context_chars=30)
    assert result.excerpt.startswith("…") and result.excerpt.endswith("…")
    assert "kill myself" in result.excerpt and "[PHONE]" in result.excerpt and "91234567" not in result.excerpt
    assert len(result.excerpt) < 120


def test_an_excerpt_never_cuts_a_placeholder_in_half():
    text = "mail ola.nordmann@example.no now I want to kill myself"
    masked = domain.mask(text, domain.redactions(text))
    start = text.index("kill")
    for context in range(1, 30):
        excerpt = masked.excerpt(start, start + len("kill myself"), context_chars=context)
        assert "[EMAIL]" in excerpt or "EMAIL" not in excerpt and "[" not in excerpt and "]" not in excerpt


def test_masked_positions_map_original_offsets():
    text = "x 91234567 y"
    masked = domain.mask(text, domain.redactions(text))
    assert masked.text == "x [PHONE] y"
    assert masked.position(0) == 0
    assert masked.position(3) == 2  # inside the phone: the placeholder's start
    assert masked.end_position(10) == 9  # the phone's end: the placeholder's end
    assert masked.position(11) == 10


def test_mask_pii_masks_a_reviewers_note():
    assert domain.mask_pii("called her on 91234567, fine now") == "called her on [PHONE], fine now"
    assert domain.mask_pii("nothing to hide") == "nothing to hide"


# --- reviews and the gate ------------------------------------------------------------------------


@pytest.mark.parametrize("decision", domain.DECISIONS)
def test_a_pending_flag_is_decided_once(decision):
    assert domain.decide("pending", None, decision) == ("decided", decision)
    with pytest.raises(domain.AlreadyDecided) as caught:
        domain.decide("decided", decision, "approved")
    assert caught.value.decision == decision


def test_an_unknown_decision_is_refused():
    with pytest.raises(ValueError, match="approved, rejected, escalated"):
        domain.decide("pending", None, "maybe")  # type: ignore[arg-type]


@pytest.mark.parametrize(("verdict", "decision", "expected"), [
    ("clear", None, True), ("held", None, False), ("held", "approved", True), ("held", "rejected", False),
    ("held", "escalated", False), ("clear", "approved", True), ("clear", "rejected", False), ("clear", "escalated", False),
])
def test_releasable_is_the_q2q_gate(verdict, decision, expected):
    assert domain.releasable(verdict, decision) is expected


def test_the_policy_file_in_the_repo_is_the_default_path():
    assert DEFAULT_POLICY_PATH == Path(domain.__file__).parent / "policy" / "default.yaml"
