"""Data loading and derivations behind the Streamlit dashboard (``app.py``).

Everything here reads the flat result tables written by ``sim.runner.ExperimentResult.write`` and
derives views of them (confidence-interval frames, Pareto fronts, flows, daily series); nothing
re-implements engine logic. Modules are free of Streamlit except ``cache``, which wraps the loaders
in ``st.cache_data``.
"""
