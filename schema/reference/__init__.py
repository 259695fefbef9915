"""Reference data: branches, products and their variants, staff — listed, and kept by the
systems that own them."""
