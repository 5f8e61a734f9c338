"""The service's database: tables, connections and the retry of transactions that lost a race."""
