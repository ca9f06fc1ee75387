"""safety-moderation: screens free text against a reloadable content policy (buddy.* and kintell.* texts in;
safety.text.screened / flag.raised / review.completed out) and keeps the human review queue."""
