"""What the use cases stand on: notices and mail (notify), stored files (uploads), spreadsheets
(exports), and the matching engine as the web app holds it (match_engine)."""
