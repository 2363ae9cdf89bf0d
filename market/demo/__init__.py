"""Demo data: organisations, people, listings and reviewed matches (seed), technology contracts
(contracts), station pages, requests and service-desk cases (desk)."""
