"""DOM Workbench dashboard: which sourcing rules should we go live with, and what do they cost us on
delivery time and emissions?

    streamlit run app.py        # or: dom dashboard

Reads result folders written by ``dom simulate`` (``results/<name>/``) and runs scenarios through
``sim.runner.run_experiment``; it never re-implements engine logic. ``DOM_RESULTS_DIR`` and
``DOM_SCENARIOS_DIR`` override where results and scenario files are found. The "Shadow" page shows
the live service's shadow exports (``results/shadow/*.parquet`` or ``DOM_SHADOW_DIR``); the "Rollout"
page the rollout rehearsals of ``dom rehearse`` (``results/<scenario>/rehearsal/``); the "Sweep" page
the parameter sweeps of ``dom sweep`` (``results/<scenario>/sweep-<space>/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import streamlit as st

from dashboard import cache, charts, explain, geo, plain, rollout, shadow, sweep, timeseries
from dashboard.kpis import OBJECTIVES, KpiView, cards, ci_frame, comparison_vs, markdown, table, views
from dashboard.pareto import Front, front, front_table
from dashboard.results import ResultsError, ResultSet, discover, file_bytes, results_dir, scenarios_dir, stamp
from dom_core.errors import DomError

if TYPE_CHECKING:
    from sim.model import Knobs
    from sim.scenario import Scenario

AS_CONFIGURED = "as in the scenario"
PAGES = ("Simulation results", "Shadow", "Rollout", "Sweep")
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
    return st.sidebar.selectbox("Open results", names, key="results", help=f"Result folders in {root}")


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
        max_ship = st.selectbox("Most parcels per order", [AS_CONFIGURED, 1, 2, 3, 4, 5],
                                key=f"{k}:max_shipments")
        safety = st.number_input("Safety stock (units held back per location and product)", min_value=0,
                                 value=None, step=1, placeholder=AS_CONFIGURED, key=f"{k}:safety_stock")
        stores = st.slider("Share of stores that ship online orders", 0.0, 1.0, 1.0, 0.05,
                           key=f"{k}:store_participation")
        capacity = st.slider("Pick capacity (× the scenario's)", 0.25, 3.0, 1.0, 0.05,
                             key=f"{k}:capacity_factor")
        demand = st.slider("Demand (× the scenario's)", 0.25, 3.0, 1.0, 0.05, key=f"{k}:demand_factor")
        reps = st.number_input("Simulated runs per strategy", 1, 50, scenario.experiment.replications,
                               key=f"{k}:replications")
        submitted = st.form_submit_button("Run", type="primary", key=f"{k}:run")
    st.caption("The simulation runs in the background and its results open when it is done; leaving the page "
               "does not stop it. The same settings again reopen the earlier results.")
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
            bar.progress(n / of, text=f"{run.strategy}: run {run.replication + 1} done ({n}/{of})")

        try:
            runs.run(spec, knobs, root / name, done)
        except (runs.RunError, *runs.SCENARIO_ERRORS) as exc:
            st.error(f"**The run failed.**\n\n{exc}")
            return
        st.session_state["_flash"] = [("success", f"Results written to {root / name}.")]
    st.session_state["_open"] = name
    st.rerun()


# ---------------------------------------------------------------------------------------------- main view
def answer(fr: Front, comparison: pl.DataFrame, baseline: str, by: dict[str, KpiView]) -> None:
    """The short answer: the best trade-offs (the Pareto front) and what each does vs the baseline."""
    rows = {(r["strategy"], r["kpi"]): r for r in comparison.iter_rows(named=True)}
    lines = ["**Best trade-offs on cost, delivery time and CO2e** (no other strategy is better on all three "
             f"at once): {', '.join(fr.optimal) or 'none'}"]
    for s in fr.optimal:
        if s == baseline:
            lines.append(f"- **{s}** is the baseline the others are compared with")
            continue
        parts = []
        for kpi in OBJECTIVES:
            r, v = rows[(s, kpi)], by[kpi]
            text = f"{v.label} {v.delta(r['diff_vs_baseline'], r['diff_ci95'])}"
            parts.append(f"**{text}**" if r["significant"] else f"{text} (could be chance)")
        lines.append(f"- **{s}** vs {baseline}: " + ", ".join(parts))
    dominated = fr.frame.filter(~pl.col("pareto"))
    if dominated.height:
        lines.append("\n**Beaten on all three:** " + ", ".join(f"{r['strategy']} (by {r['dominated_by']})"
                                                          for r in dominated.iter_rows(named=True)))
    st.markdown("\n".join(lines))
    st.caption("Every strategy was simulated on the same orders, so differences are measured order for "
               "order; ± gives the 95% confidence range. Bold: a clear difference; could be chance: the runs "
               "cannot tell it apart from no difference.")


def comparison_tab(rs: ResultSet, comparison: pl.DataFrame, kv: tuple[KpiView, ...], key: str) -> None:
    """KPI cards for one strategy, bar charts of means and differences, the comparison table."""
    ci = ci_frame(comparison, kv)
    others = [s for s in rs.strategies if s != comparison["baseline"][0]] or rs.strategies
    inspect = st.selectbox("Strategy shown in the cards", rs.strategies, index=rs.strategies.index(others[0]),
                           key=f"{key}:inspect")
    cols = st.columns(4)
    for i, c in enumerate(cards(comparison, inspect, kv)):
        cols[i % 4].metric(c.label, c.value, c.delta, delta_color=c.delta_color,  # type: ignore[arg-type]
                           help=c.help, border=True)
    shown = st.segmented_control("Show", ["Difference vs baseline", "Averages"],
                                 default="Difference vs baseline", key=f"{key}:bars", required=True)
    if shown == "Averages":
        st.plotly_chart(charts.kpi_levels(ci, charts.strategy_colors(rs.strategies), kv), key=f"{key}:levels")
    else:
        st.plotly_chart(charts.kpi_differences(ci, comparison["baseline"][0], kv), key=f"{key}:diffs")
    st.markdown(markdown(table(comparison, kv)))
    st.caption("Average over the simulated runs ± 95% confidence range; in brackets the difference from "
               "the baseline ± its range, * where the difference is clear (95% confidence); pp = percentage "
               "points.")


def tradeoffs_tab(comparison: pl.DataFrame, by: dict[str, KpiView], key: str) -> None:
    """Cost vs delivery time with CO2e as size and colour; the best trade-offs on the chosen measures."""
    objectives = st.multiselect("Find the best trade-offs on", list(by), default=list(OBJECTIVES),
                                format_func=lambda k: by[k].label, key=f"{key}:objectives")
    fr = front(comparison, objectives or OBJECTIVES)
    st.plotly_chart(charts.tradeoff(fr, views=by), key=f"{key}:tradeoff")
    st.markdown(markdown(front_table(fr, by)))
    st.caption("A best trade-off is a strategy that no other strategy beats on every chosen measure at once.")


def map_tab(rs: ResultSet, folder: str, st_: int, key: str) -> None:
    """Locations sized by volume shipped and flows to customer areas, per strategy, on a real map."""
    c1, c2, c3 = st.columns([2, 1, 1])
    strategy = c1.selectbox("Strategy", rs.strategies, key=f"{key}:map_strategy")
    reps = list(range(int(rs.manifest["replications"])))
    rep = c2.selectbox("Simulated run (for the deliveries)", reps, format_func=lambda r: f"run {r + 1}",
                       key=f"{key}:map_rep")
    show_flows = c3.checkbox("Deliveries to customer areas", value=True, key=f"{key}:map_flows")
    locs, places = cache.locations(folder, st_)
    shipped = cache.shipped_by_location(folder, st_, int(rs.manifest["replications"]))
    demand_factor = float(rs.manifest.get("knobs", {}).get("demand_factor", 1.0))
    flows = cache.flows(folder, st_, strategy, rep, demand_factor) if show_flows else None
    vol = geo.volumes(shipped, locs, strategy)
    title = f"{strategy}: units shipped per location"
    title += f" and the largest deliveries (run {rep + 1})" if show_flows else ""
    st.plotly_chart(charts.network_map(vol, flows, places, title), key=f"{key}:map")
    st.caption("Marker size: units shipped per simulated run. Lines: the largest flows of parcels from each "
               "location to customer areas. Grey dots: where customers live, by population. Land, coastlines "
               "and country borders: Natural Earth, shipped with the dashboard.")
    st.plotly_chart(charts.kind_share_bars(geo.kind_shares(shipped), rs.strategies), key=f"{key}:kinds")


def timeseries_tab(rs: ResultSet, folder: str, st_: int, cal: plain.Calendar, key: str) -> None:
    """Orders, backlog, stock on hand and stock-outs per day."""
    daily = cache.daily(folder, st_)
    selection = st.selectbox("Locations", timeseries.selections(daily), key=f"{key}:ts_sel")
    frame = timeseries.series(daily, cache.orders_per_day(folder, st_), selection)
    warmup = float(rs.manifest.get("scenario_spec", {}).get("warmup_days", 0) or 0)
    st.plotly_chart(charts.daily_series(frame, charts.strategy_colors(rs.strategies), warmup, selection,
                                        cal.start), key=f"{key}:series")


def drilldown_tab(rs: ResultSet, folder: str, st_: int, cal: plain.Calendar, key: str) -> None:
    """One sampled order: why it was sourced where it was (the candidate locations as a table), its order
    rows and parcels, and what the other strategies did with it."""
    ex = cache.explanations(folder, st_)
    if ex.height == 0:
        st.info("This run kept no sample orders to explain.")
        return
    c1, c2, c3 = st.columns(3)
    present = set(ex["strategy"].to_list())
    strategies = [s for s in rs.strategies if s in present]
    strategy = c1.selectbox("Strategy", strategies, key=f"{key}:dd_strategy")
    mine = ex.filter(pl.col("strategy") == strategy)
    reps = mine["replication"].unique(maintain_order=True).to_list()
    rep = c2.selectbox("Simulated run", reps, format_func=lambda r: f"run {r + 1}", key=f"{key}:dd_rep")
    run = mine.filter(pl.col("replication") == rep)
    ref = c3.selectbox("Order (a sample of the run's orders)", run["order_ref"].to_list(),
                       key=f"{key}:dd_order")
    text = run.filter(pl.col("order_ref") == ref)["explanation"][0]
    decision = explain.parse(text)
    orders, ships = cache.order_detail(folder, st_, strategy, int(rep), ref)
    if decision is None:
        st.code(text, language=None, wrap_lines=True)
    else:
        decision = explain.with_promises(decision, explain.promises(ships))
        st.markdown(explain.summary(decision, cal, strategy))
        st.markdown(markdown(explain.table(decision, cal)))
        for group in explain.groups(decision):
            with st.expander(group.title):
                st.markdown(markdown(explain.members(group)))
        st.caption("Every location the rules could use, the chosen one first. ATP per line: units "
                   "available to promise there for each line of the order when it was decided. Rank: the "
                   "order in which the strategy checked the locations. Cost, promise and CO2e: those of the "
                   "parcel it ships.")
        with st.expander("The engine's explanation as text"):
            st.code(text, language=None, wrap_lines=True)
    st.markdown("**The order** (one row per sourcing attempt) and **its parcels**")
    st.dataframe(plain.order_rows(orders, cal), hide_index=True)
    st.dataframe(plain.parcel_rows(ships, cal), hide_index=True)
    same = ex.filter((pl.col("replication") == rep) & (pl.col("order_ref") == ref)
                     & (pl.col("strategy") != strategy))
    if same.height:
        st.markdown("**The same order under the other strategies**")
        rows = []
        for r in same.iter_rows(named=True):
            exact = explain.promises(cache.order_detail(folder, st_, r["strategy"], int(rep), ref)[1])
            rows.append(explain.outcome_row(r["strategy"], r["explanation"], cal, exact))
        st.markdown(markdown(pl.DataFrame(rows)))


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
    cal = plain.calendar(rs.manifest)
    kv = views(cal.currency)
    by = {v.name: v for v in kv}
    st.caption(plain.describe(rs.manifest, len(rs.strategies), cal) + f" · folder {folder}")
    if cal.note():
        st.caption(cal.note())
    key = name  # widget keys per result folder: another folder has other strategies
    baseline = st.selectbox("Baseline (the strategy the others are compared with)", rs.strategies,
                            index=rs.strategies.index(rs.baseline), key=f"{key}:baseline")
    comparison = comparison_vs(rs.comparison, rs.kpis, rs.strategies, baseline)
    answer(front(comparison), comparison, baseline, by)
    # only the open tab is rendered (the others cost nothing until chosen)
    tabs = st.tabs(list(TABS), key="view", on_change="rerun")
    bodies = (
        lambda: comparison_tab(rs, comparison, kv, key), lambda: tradeoffs_tab(comparison, by, key),
        lambda: map_tab(rs, folder, st_, key), lambda: timeseries_tab(rs, folder, st_, cal, key),
        lambda: drilldown_tab(rs, folder, st_, cal, key), lambda: downloads_tab(folder, comparison, key),
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


# ---------------------------------------------------------------------------------------------- sweep page
@st.cache_data(show_spinner=False, max_entries=4)
def sweep_result(folder: str, stamp: int) -> sweep.Sweep:
    """A sweep folder read and checked (cached per path and time stamp)."""
    del stamp  # part of the cache key only
    return sweep.load(Path(folder))


def sweep_page() -> None:
    """A design over rule knobs (``dom sweep``): which settings give the best trade-offs, which knob
    matters, and how one point compares with the baseline."""
    st.title("Which knob settings give the best trade-off?")
    root = results_dir()
    folders = sweep.discover(root)
    if not folders:
        st.info(f"No sweeps in {root}. Sweep the rule knobs first: {sweep.HINT}.")
        return
    folder = st.sidebar.selectbox("Sweep (newest first)", folders, format_func=lambda p: sweep.name(p, root),
                                  key="sweep", help=f"sweep folders under {root}")
    try:
        s = sweep_result(str(folder), sweep.stamp(folder))
    except sweep.SweepError as exc:
        st.error(f"**The sweep {sweep.name(folder, root)} cannot be shown.** {exc}")
        return
    st.caption(sweep.describe(s))
    key = f"sweep:{sweep.name(folder, root)}"  # another sweep has other points
    event = st.plotly_chart(sweep.pareto_figure(s), key=f"{key}:pareto", on_select="rerun",
                            selection_mode="points")
    clicked = sweep.picked_point(event)
    if clicked is not None and clicked != st.session_state.get(f"{key}:clicked"):  # a new click only
        st.session_state[f"{key}:clicked"] = st.session_state[f"{key}:point"] = clicked
    st.markdown(markdown(sweep.front_table(s)))
    st.caption("The Pareto front: no other point is at least as good on cost, delivery time and CO2e and "
               "better on one. Means ± 95% CI over the replications (the same orders at every point).")
    st.plotly_chart(sweep.parallel_figure(s), key=f"{key}:parallel")
    st.subheader("Which knob moves which KPI most")
    st.markdown(markdown(sweep.sensitivity_table(s)))
    st.caption("Standardized regression coefficient over the points: how many standard deviations the KPI "
               "moves per standard deviation of the knob, the others held fixed (ρ: rank correlation, for "
               "effects that are not straight lines). Bold: the knob that moves the KPI most.")
    st.subheader("One point against the baseline")
    point = st.selectbox("Point (or click one in the chart)", s.point_ids,
                         format_func=lambda i: sweep.point_label(s, i), key=f"{key}:point")
    st.markdown(markdown(sweep.point_comparison(s, point)))
    st.caption("Paired differences over the same replications (common random numbers) with 95% CIs; "
               "* a clear difference; pp = percentage points.")


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
    if page == "Sweep":
        sweep_page()
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
