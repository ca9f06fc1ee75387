"""unified-profile: one journey profile per participant per tenant, fed by kintell, buddy and upskilling events."""
