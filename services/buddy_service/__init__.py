"""buddy-service: brings buddy-programme matches, shared activities, check-ins and feedback into Summit
(CSV and JSON imports in; buddy.* events out)."""
