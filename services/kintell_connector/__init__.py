"""kintell-connector: brings Kintell language and mentorship sessions and their ratings into Summit
(CSV imports and signed webhooks in; kintell.session.* and kintell.rating.* events out)."""
