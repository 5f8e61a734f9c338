"""A retailer's own data in: locations, catalogue, stock, carriers and order history from CSV or Parquet."""
