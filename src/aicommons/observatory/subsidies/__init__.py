"""See the package documentation of aicommons.observatory."""
