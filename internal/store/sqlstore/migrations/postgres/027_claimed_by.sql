-- Which node claimed a delivery (nodes.id; '' for a process that is no
-- node, such as the Postfix pipe's): the claims of a node that stopped
-- beating are released by the others, instead of waiting out the lease.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
