"""Rules every form, API call and import shares: field cleaning (fields), identifiers and codes (rules),
reference taxonomies (reference) and working days (workdays)."""
