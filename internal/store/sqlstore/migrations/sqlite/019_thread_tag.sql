-- The helpdesk's ticket tag of a gateway's conversation (e.g. RT's
-- "[example.org #7]"), as the helpdesk last wrote it in a reply's
-- Subject. Mail of the conversation whose Subject lost the tag (a reply
-- from a program that does not show protected headers answers "Re: ...")
-- gets it back before it goes to the helpdesk. '' when none is known.
ALTER TABLE threads ADD COLUMN tag TEXT NOT NULL DEFAULT '';
