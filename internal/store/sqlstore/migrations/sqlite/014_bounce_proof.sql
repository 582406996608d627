-- A bounce to a member's old-form VERP address (LIST-bounce+LOCAL=DOMAIN,
-- no token) counts only when a copy really went out from that address
-- within the list's bounce window: looked up by envelope sender, which
-- names list and member. Copies made since carry a token and never need
-- the lookup, so the index holds the old-form copies only: new copies do
-- not pay for it.
CREATE INDEX deliveries_untokened ON deliveries (env_from, created_at)
    WHERE env_from GLOB '*-bounce+*=*' AND env_from NOT GLOB '*-bounce+*=*=*';
