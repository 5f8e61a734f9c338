"""DOM Workbench dashboard: which sourcing rules should we go live with, and what do they cost us on
delivery time and emissions?

    streamlit run app.py        # or: dom dashboard

Reads result folders written by ``dom simulate`` (``results/<name>/``) and runs scenarios through
``sim.runner.run_experiment``; it never re-implements engine logic. ``DOM_RESULTS_DIR`` and
``DOM_SCENARIOS_DIR`` override where results and scenario files are found. The "Shadow" page shows
the live service's shadow exports (``results/shadow/*.parquet`` or ``DOM_SHADOW_DIR``); the "Rollout"
page the rollout rehearsals of ``dom rehearse`` (``results/<scenario>/rehearsal/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import streamlit as st

from dashboard import cache, charts, geo, rollout, shadow, timeseries
from dashboard.kpis import BY_NAME, HEADLINE, OBJECTIVES, cards, ci_frame, comparison_vs, markdown, table
from dashboard.pareto import Front, front, front_table
from dashboard.results import ResultsError, ResultSet, discover, file_bytes, results_dir, scenarios_dir, stamp
from dom_core.errors import DomError

if TYPE_CHECKING:
    from sim.model import Knobs
    from sim.scenario import Scenario

AS_CONFIGURED = "as configured"
PAGES = ("Simulation results", "Shadow", "Rollout")
TABS = ("Comparison", "Trade-offs", "Map", "Time series", "Drill-down", "Downloads")


# ---------------------------------------------------------------------------------------------- sidebar
def results_picker(root: Path) -> str | None:
    """Choose a result folder (default: ``default``, else the newest); returns its name."""
    st.sidebar.header("Results")
    names = discover(root)
    pending = st.session_state.pop("_open", None)  # set by a finished run
    if pending in names:
        st.session_state["results"] = pending
    for kind, text in st.session_state.pop("_flash", []):
        getattr(st.sidebar, kind)(text)
    if not names:
        return None
    return st.sidebar.selectbox("Open results", names, key="results", help=f"result folders under {root}")


def run_panel(root: Path) -> None:
    """Scenario, strategies and knobs; the Run button runs the experiment and opens its results."""
    from dashboard import runs  # only imported once the panel is opened

    files = runs.scenario_files(scenarios_dir())
    if not files:
        st.info(f"No scenario files (*.yaml) in {scenarios_dir()}.")
        return
    path = st.selectbox("Scenario", files, format_func=lambda p: p.name, key="scenario")
    try:
        scenario = runs.load(path)
    except runs.SCENARIO_ERRORS as exc:
        st.error(f"**{path.name} does not validate.**\n\n{exc}")
        return
    names = [r.name for r in scenario.experiment.runs()]
    k = path.stem
    with st.form(f"run:{k}"):
        chosen = st.multiselect("Strategies", names, default=names, key=f"{k}:strategies")
        max_ship = st.selectbox("Max shipments per order", [AS_CONFIGURED, 1, 2, 3, 4, 5],
                                key=f"{k}:max_shipments")
        safety = st.number_input("Safety stock (units per location and SKU)", min_value=0, value=None, step=1,
                                 placeholder=AS_CONFIGURED, key=f"{k}:safety_stock")
        stores = st.slider("Store participation (share of stores shipping online)", 0.0, 1.0, 1.0, 0.05,
                           key=f"{k}:store_participation")
        capacity = st.slider("Capacity factor", 0.25, 3.0, 1.0, 0.05, key=f"{k}:capacity_factor")
        demand = st.slider("Demand factor", 0.25, 3.0, 1.0, 0.05, key=f"{k}:demand_factor")
        reps = st.number_input("Replications", 1, 50, scenario.experiment.replications,
                               key=f"{k}:replications")
        submitted = st.form_submit_button("Run", type="primary", key=f"{k}:run")
    st.caption("Runs in its own process; results go to a folder named by the settings and open when done "
               "(leaving the page does not stop a run).")
    if submitted:
        knobs = runs.knobs(demand, capacity, None if max_ship == AS_CONFIGURED else int(max_ship),
                           None if safety is None else int(safety), stores)
        execute(root, scenario, chosen, int(reps), knobs)


def execute(root: Path, scenario: Scenario, strategies: list[str], replications: int, knobs: Knobs) -> None:
    """Run the experiment with a progress bar, write ``results/<scenario>-<hash>/`` and open it."""
    from dashboard import runs

    try:
        spec = runs.configure(scenario, strategies, replications)
    except DomError as exc:
        st.error(str(exc))
        return
    name = runs.folder_name(spec, knobs)
    if (root / name / "manifest.json").is_file():
        st.session_state["_flash"] = [("info", f"These settings ran before: opened {name}.")]
    else:
        total = len(spec.experiment.runs()) * spec.experiment.replications
        bar = st.progress(0.0, text=f"Simulating {total} runs…")

        def done(run: runs.RunDone, n: int, of: int) -> None:
            bar.progress(n / of, text=f"{run.strategy} replication {run.replication} done ({n}/{of})")

        try:
            runs.run(spec, knobs, root / name, done)
        except (runs.RunError, *runs.SCENARIO_ERRORS) as exc:
            st.error(f"**The run failed.**\n\n{exc}")
            return
        st.session_state["_flash"] = [("success", f"Results written to {root / name}.")]
    st.session_state["_open"] = name
    st.rerun()


# ---------------------------------------------------------------------------------------------- main view
def answer(fr: Front, comparison: pl.DataFrame, baseline: str) -> None:
    """The short answer: Pareto-optimal strategies and what each costs vs the baseline."""
    rows = {(r["strategy"], r["kpi"]): r for r in comparison.iter_rows(named=True)}
    lines = [f"**Pareto-optimal on cost, delivery time and CO2e:** {', '.join(fr.optimal) or 'none'}"]
    for s in fr.optimal:
        if s == baseline:
            lines.append(f"- **{s}** is the baseline")
            continue
        parts = []
        for kpi in OBJECTIVES:
            r, v = rows[(s, kpi)], BY_NAME[kpi]
            text = f"{v.label} {v.delta(r['diff_vs_baseline'], r['diff_ci95'])}"
            parts.append(f"**{text}**" if r["significant"] else f"{text} (n.s.)")
        lines.append(f"- **{s}** vs {baseline}: " + ", ".join(parts))
    dominated = fr.frame.filter(~pl.col("pareto"))
    if dominated.height:
        lines.append("\n**Dominated:** " + ", ".join(f"{r['strategy']} (by {r['dominated_by']})"
                                                for r in dominated.iter_rows(named=True)))
    st.markdown("\n".join(lines))
    st.caption("Differences are paired over replications (common random numbers) with 95% CIs; "
               "bold = significant, n.s. = not significant.")


def comparison_tab(rs: ResultSet, comparison: pl.DataFrame, key: str) -> None:
    """KPI cards for one strategy, bar charts of means and differences, the comparison table."""
    ci = ci_frame(comparison)
    others = [s for s in rs.strategies if s != comparison["baseline"][0]] or rs.strategies
    inspect = st.selectbox("Strategy for the KPI cards", rs.strategies, index=rs.strategies.index(others[0]),
                           key=f"{key}:inspect")
    cols = st.columns(4)
    for i, c in enumerate(cards(comparison, inspect)):
        cols[i % 4].metric(c.label, c.value, c.delta, delta_color=c.delta_color,  # type: ignore[arg-type]
                           help=c.help, border=True)
    shown = st.segmented_control("Bars", ["Difference vs baseline", "KPI levels"],
                                 default="Difference vs baseline", key=f"{key}:bars", required=True)
    if shown == "KPI levels":
        st.plotly_chart(charts.kpi_levels(ci, charts.strategy_colors(rs.strategies)), key=f"{key}:levels")
    else:
        st.plotly_chart(charts.kpi_differences(ci, comparison["baseline"][0]), key=f"{key}:diffs")
    st.markdown(markdown(table(comparison)))
    st.caption("Mean ± 95% CI, in brackets the paired difference vs the baseline ± 95% CI; "
               "* significant at 95%; pp = percentage points.")


def tradeoffs_tab(comparison: pl.DataFrame, key: str) -> None:
    """Cost vs delivery time with CO2e as size and colour; the Pareto front on the chosen objectives."""
    objectives = st.multiselect("Pareto objectives", [v.name for v in HEADLINE], default=list(OBJECTIVES),
                                format_func=lambda k: BY_NAME[k].label, key=f"{key}:objectives")
    fr = front(comparison, objectives or OBJECTIVES)
    st.plotly_chart(charts.tradeoff(fr), key=f"{key}:tradeoff")
    st.markdown(markdown(front_table(fr)))


def map_tab(rs: ResultSet, folder: str, st_: int, key: str) -> None:
    """Locations sized by volume shipped and flows to customer areas, per strategy."""
    c1, c2, c3 = st.columns([2, 1, 1])
    strategy = c1.selectbox("Strategy", rs.strategies, key=f"{key}:map_strategy")
    reps = list(range(int(rs.manifest["replications"])))
    rep = c2.selectbox("Replication (flows)", reps, key=f"{key}:map_rep")
    show_flows = c3.checkbox("Flows to customer areas", value=True, key=f"{key}:map_flows")
    locs, places = cache.locations(folder, st_)
    shipped = cache.shipped_by_location(folder, st_, int(rs.manifest["replications"]))
    demand_factor = float(rs.manifest.get("knobs", {}).get("demand_factor", 1.0))
    flows = cache.flows(folder, st_, strategy, rep, demand_factor) if show_flows else None
    vol = geo.volumes(shipped, locs, strategy)
    st.plotly_chart(charts.network_map(vol, flows, places, f"{strategy}: units shipped per location"
                                       + (f" and largest flows (replication {rep})" if show_flows else "")),
                    key=f"{key}:map")
    st.plotly_chart(charts.kind_share_bars(geo.kind_shares(shipped), rs.strategies), key=f"{key}:kinds")


def timeseries_tab(rs: ResultSet, folder: str, st_: int, key: str) -> None:
    """Orders, backlog, stock on hand and stock-outs per simulated day."""
    daily = cache.daily(folder, st_)
    selection = st.selectbox("Locations", timeseries.selections(daily), key=f"{key}:ts_sel")
    frame = timeseries.series(daily, cache.orders_per_day(folder, st_), selection)
    warmup = float(rs.manifest.get("scenario_spec", {}).get("warmup_days", 0) or 0)
    st.plotly_chart(charts.daily_series(frame, charts.strategy_colors(rs.strategies), warmup, selection),
                    key=f"{key}:series")


def drilldown_tab(rs: ResultSet, folder: str, st_: int, key: str) -> None:
    """One sampled order: the explanation of its sourcing decision, its order rows and shipments."""
    ex = cache.explanations(folder, st_)
    if ex.height == 0:
        st.info("This run recorded no explanations.")
        return
    c1, c2, c3 = st.columns(3)
    present = set(ex["strategy"].to_list())
    strategies = [s for s in rs.strategies if s in present]
    strategy = c1.selectbox("Strategy", strategies, key=f"{key}:dd_strategy")
    mine = ex.filter(pl.col("strategy") == strategy)
    reps = mine["replication"].unique(maintain_order=True).to_list()
    rep = c2.selectbox("Replication", reps, key=f"{key}:dd_rep")
    run = mine.filter(pl.col("replication") == rep)
    ref = c3.selectbox("Order", run["order_ref"].to_list(), key=f"{key}:dd_order")
    st.code(run.filter(pl.col("order_ref") == ref)["explanation"][0], language=None, wrap_lines=True)
    orders, ships = cache.order_detail(folder, st_, strategy, int(rep), ref)
    st.markdown("**Order record** (one row per sourcing attempt) and **shipments**; times in simulated hours")
    st.dataframe(orders, hide_index=True)
    st.dataframe(ships, hide_index=True)
    same = ex.filter((pl.col("replication") == rep) & (pl.col("order_ref") == ref)
                     & (pl.col("strategy") != strategy))
    with st.expander(f"The same order under the other strategies ({same.height})"):
        for r in same.iter_rows(named=True):
            st.markdown(f"**{r['strategy']}**")
            st.code(r["explanation"], language=None, wrap_lines=True)


def downloads_tab(folder: str, comparison: pl.DataFrame, key: str) -> None:
    """The comparison as CSV and every raw table as Parquet (read when clicked)."""
    st.download_button("Comparison vs the chosen baseline (CSV)", comparison.write_csv(),
                       file_name=f"{Path(folder).name}-comparison.csv", mime="text/csv", key=f"{key}:dl_cmp")
    path = Path(folder)
    tables = ("kpis", "orders", "shipments", "daily", "returns", "events", "explanations", "comparison")
    for name in ("comparison.csv", *(f"{t}.parquet" for t in tables)):
        if (path / name).is_file():
            size = (path / name).stat().st_size / 1e6
            st.download_button(f"{name} ({size:,.1f} MB)", lambda n=name: file_bytes(path, n),
                               file_name=f"{path.name}-{name}", key=f"{key}:dl:{name}", on_click="ignore")


def view(root: Path, name: str) -> None:
    """The comparison of one result folder: answer, baseline choice and the tabs."""
    folder, st_ = str(root / name), stamp(root / name)
    try:
        rs = cache.result_set(folder, st_)
    except ResultsError as exc:
        st.error(f"**Results {name} cannot be shown.** {exc}")
        return
    m = rs.manifest
    knobs = {k: v for k, v in m.get("knobs", {}).items() if v not in (None, 1.0)}
    st.caption(f"{m['scenario']}: {m.get('scenario_spec', {}).get('description', '')} · "
               f"{len(rs.strategies)} strategies × {m['replications']} replications · seed {m.get('seed')} · "
               f"knobs {knobs or 'none'} · {m.get('seconds', '?')} s · {folder}")
    key = name  # widget keys per result folder: another folder has other strategies
    baseline = st.selectbox("Baseline", rs.strategies, index=rs.strategies.index(rs.baseline),
                            key=f"{key}:baseline")
    comparison = comparison_vs(rs.comparison, rs.kpis, rs.strategies, baseline)
    answer(front(comparison), comparison, baseline)
    # only the open tab is rendered (the others cost nothing until chosen)
    tabs = st.tabs(list(TABS), key="view", on_change="rerun")
    bodies = (
        lambda: comparison_tab(rs, comparison, key), lambda: tradeoffs_tab(comparison, key),
        lambda: map_tab(rs, folder, st_, key), lambda: timeseries_tab(rs, folder, st_, key),
        lambda: drilldown_tab(rs, folder, st_, key), lambda: downloads_tab(folder, comparison, key),
    )
    for tab, body in zip(tabs, bodies, strict=True):
        if not tab.open:
            continue
        with tab:
            try:
                body()
            except ResultsError as exc:
                st.error(f"**Part of results {name} cannot be shown.** {exc}")


# ---------------------------------------------------------------------------------------------- shadow page
@st.cache_data(show_spinner=False, max_entries=4)
def shadow_file(source: str | bytes, name: str, stamp: int) -> shadow.ShadowFile:
    """A shadow file read and checked (cached per path and time stamp, or per uploaded content)."""
    del stamp  # part of the cache key only
    return shadow.read(Path(source) if isinstance(source, str) else source, name)


def shadow_page() -> None:
    """Candidate rules decided beside the live rules on live orders: should they replace them?"""
    st.title("Should the candidate rules replace the live rules?")
    root = shadow.shadow_dir()
    files = shadow.discover(root)
    c1, c2 = st.columns(2)
    picked = c1.selectbox("Shadow file (newest first)", files, format_func=lambda p: p.name,
                          key="shadow_file", help=f"*.parquet in {root}") if files else None
    upload = c2.file_uploader("Or upload a shadow file", type="parquet", key="shadow_upload")
    source: str | bytes
    if upload is not None:
        source, name, stamp = upload.getvalue(), upload.name, 0
    elif picked is not None:
        source, name, stamp = str(picked), picked.name, picked.stat().st_mtime_ns
    else:
        st.info(f"No shadow files in {root}. Export the live service's comparison of the candidate rules "
                f"with the live rules: {shadow.EXPORT_HINT}, or upload a file.")
        return
    try:
        data = shadow_file(source, name, stamp)
    except shadow.ShadowError as exc:
        st.error(f"**{name} cannot be shown.** {exc}")
        return
    if data.orders.height == 0:
        st.info(f"{name} holds no orders yet.")
        return
    orders, currency = data.orders, data.currency
    st.caption(shadow.period(orders))
    s = shadow.summarise(orders)
    for col, c in zip(st.columns(6), shadow.cards(s, currency), strict=True):
        col.metric(c.label, c.value, help=c.help, border=True)
    st.markdown(shadow.verdict(s, currency))
    st.markdown(markdown(shadow.segment_table(orders, currency)))
    st.caption("Per market and channel: candidate rules minus live rules, means per order "
               "± 95% confidence interval.")
    if s.disagreements:
        st.plotly_chart(shadow.cost_histogram(orders, currency), key="shadow:costs")
    st.plotly_chart(shadow.daily_agreement(orders), key="shadow:daily")


# ---------------------------------------------------------------------------------------------- rollout page
@st.cache_data(show_spinner=False, max_entries=4)
def rehearsal(folder: str, stamp: int) -> rollout.Rehearsal:
    """A rehearsal folder read and checked (cached per path and time stamp)."""
    del stamp  # part of the cache key only
    return rollout.load(Path(folder))


def rollout_page() -> None:
    """New rules switched on stage by stage: is it safe to go on to the next stage?"""
    st.title("Is it safe to go on to the next rollout stage?")
    root = results_dir()
    folders = rollout.discover(root)
    if not folders:
        st.info(f"No rollout rehearsals in {root}. Rehearse the staged rollout first: {rollout.HINT}.")
        return
    folder = st.sidebar.selectbox("Rehearsal (newest first)", folders, format_func=lambda p: p.parent.name,
                                  key="rehearsal", help=f"<scenario>/rehearsal/ folders in {root}")
    try:
        r = rehearsal(str(folder), rollout.stamp(folder))
    except rollout.RolloutError as exc:
        st.error(f"**The rehearsal {folder.parent.name} cannot be shown.** {exc}")
        return
    st.caption(rollout.describe(r))
    st.plotly_chart(rollout.timeline(r.stages, rollout.start_date(r.manifest)), key="rollout:timeline")
    c1, c2 = st.columns(2)
    key = f"rollout:{folder.parent.name}"  # another rehearsal has other stages
    plan = c1.radio("Plan", rollout.plans(r), format_func=rollout.plan_label, key=f"{key}:plan",
                    horizontal=True)
    stage = c2.selectbox("Stage", r.stages["stage"].to_list(), key=f"{key}:stage")
    if plan is None or stage is None:
        st.info("This rehearsal holds no plans or stages.")
        return
    st.subheader("Verdicts: may the rollout go on?")
    st.markdown(rollout.advice(r, plan))
    st.markdown(markdown(rollout.verdict_table(r, plan)))
    st.caption("Each stage is judged on the criteria of the scenario, with 95% confidence ranges: "
               "inconclusive means the rehearsal cannot tell yet (more replications may settle it).")
    st.subheader(f"What changes where in {stage}")
    st.plotly_chart(rollout.heatmap(r, plan, stage), key="rollout:heatmap")
    st.caption("The plan minus the current rules, per market/channel (pp = percentage points). \\* marks a "
               "clear change (95% confidence); in brackets: could be chance. Segments *not live yet* still "
               "run the current rules but share stock and capacity with those that switched (spillover).")
    st.subheader(f"Risk signals in {stage}, biggest first")
    risks = rollout.risk_table(r, plan, stage)
    if risks.height:
        st.markdown(markdown(risks))
    else:
        st.info("No risk signals recorded for this stage.")


def main() -> None:
    """The page: results first, then the run panel in the sidebar; or the shadow or rollout page."""
    st.set_page_config(page_title="DOM Workbench: strategy comparison", layout="wide")
    page = st.sidebar.radio("Page", PAGES, key="page", horizontal=True)
    if page == "Shadow":
        shadow_page()
        return
    if page == "Rollout":
        rollout_page()
        return
    root = results_dir()
    name = results_picker(root)
    st.title("Which sourcing rules should go live?")
    if name is None:
        st.warning(f"No results found in {root}. Run a scenario from the sidebar, or on the command line: "
                   "`dom simulate scenarios/default.yaml`.")
    else:
        view(root, name)
    # the run controls load only when opened (open from the start when there is nothing to show)
    panel = st.sidebar.expander("Run a scenario", expanded=name is None, key="run_panel", on_change="rerun")
    if panel.open:
        with panel:
            run_panel(root)


main()
