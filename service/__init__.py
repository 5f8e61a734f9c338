"""The live order-sourcing service: the dom_core engine behind HTTP, its state in a database."""
