-- A bounce to a member's old-form VERP address (no token) counts only
-- when a copy really went out from that address within the list's bounce
-- window: looked up by envelope sender, which names list and member.
CREATE INDEX deliveries_env_from ON deliveries (env_from, created_at);
