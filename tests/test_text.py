from songscape.text import normalize_text


def test_normalize_text_is_case_accent_and_punctuation_insensitive():
    assert normalize_text("Beyoncé & Jay-Z") == "beyonce and jay z"
    assert normalize_text("  Don't  STOP!! ") == "dont stop"
    assert normalize_text("Simon & Garfunkel") == "simon and garfunkel"
    assert normalize_text("  ") == "" and normalize_text(None) == ""
    assert normalize_text("snake_case") == "snake case"
    assert normalize_text("Москва Сити") == "москва сити"  # any script is kept


def test_strip_featuring_drops_guest_credits_only_when_asked():
    assert normalize_text("Beyoncé (feat. Jay-Z)", strip_featuring=True) == "beyonce"
    assert normalize_text("Song ft. Someone Else", strip_featuring=True) == "song"
    assert normalize_text("Song [with Band]", strip_featuring=True) == "song"
    assert normalize_text("Beyoncé (feat. Jay-Z)") == "beyonce feat jay z"
    assert normalize_text("Featuring", strip_featuring=True) == "featuring"
