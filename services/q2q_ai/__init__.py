"""q2q-ai: qualitative text (feedback, check-in notes, session notes, rating comments) to outcome scores."""
