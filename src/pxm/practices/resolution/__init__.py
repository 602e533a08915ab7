"""Patient service desk (H5): contacts, cases, SLA, first contact resolution."""
