//! The dashboard: what the portal holds today, and nothing it does not.

use crate::{
    api::{dashboard::dashboard_summary, findings::compliance_summary},
    components::{layout::Layout, notice::ErrorPanel},
    model::{ComplianceView, FindingsQuery},
    pages::findings::href,
};
use leptos::prelude::*;

/// Horizontal bars of counts, each linking to the findings it counts.
#[component]
fn Bars(label: &'static str, rows: Vec<(String, i64)>, link: fn(&str) -> FindingsQuery) -> impl IntoView {
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    view! {
        <section class="panel" data-testid={format!("bars-{}", label.to_lowercase().replace(' ', "-"))}>
            <h2>{label}</h2>
            {if rows.is_empty() {
                view! { <p class="muted">"Nothing is failing."</p> }.into_any()
            } else {
                view! {
                    <ul class="bars">
                        {rows.into_iter().map(|(k, n)| {
                            // An SVG attribute, not an inline style: the CSP
                            // refuses style attributes.
                            let width = (n * 100 / max).max(1).to_string();
                            let target = href(&link(&k));
                            view! {
                                <li>
                                    <a href=target>{k}</a>
                                    <svg class="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                                        <rect class="bar" x="0" y="0" height="10" width=width rx="2"/>
                                    </svg>
                                    <span>{n}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// The compliance trend across snapshots of the newest scope: a line over
/// a 0–100% axis, dated, each point labelled with its value.
#[component]
fn Trend(points: Vec<(String, f64)>) -> impl IntoView {
    let n = points.len();
    // The plot area inside the 440 × 140 view box; the rest holds the axes.
    let (left, right, top, bottom) = (44.0, 430.0, 16.0, 110.0);
    let x_of = |i: usize| {
        if n > 1 {
            left + 10.0 + i as f64 * (right - left - 20.0) / (n - 1) as f64
        } else {
            (left + right) / 2.0
        }
    };
    let y_of = |p: f64| bottom - p.clamp(0.0, 100.0) * (bottom - top) / 100.0;
    let xy: Vec<(f64, f64)> = points.iter().enumerate().map(|(i, (_, p))| (x_of(i), y_of(*p))).collect();
    let line = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ");
    let label = points.iter().map(|(d, p)| format!("{d}: {p:.1}%")).collect::<Vec<_>>().join("; ");
    // Dates under the first, the last and (when there are many) a few between.
    let step = n.div_ceil(6).max(1);
    let dated: Vec<usize> = (0..n).filter(|i| i % step == 0 || *i + 1 == n).collect();
    let values = n <= 12;
    view! {
        <section class="panel" data-testid="trend">
            <h2>"Compliance across snapshots"</h2>
            <svg class="trend" viewBox="0 0 440 140" role="img" aria-label={format!("Compliance trend: {label}")}>
                {[0.0, 50.0, 100.0].into_iter().map(|p| {
                    let y = format!("{:.1}", y_of(p));
                    view! {
                        <line class="grid" x1={left.to_string()} x2={right.to_string()} y1=y.clone() y2=y.clone()/>
                        <text class="axis" x={(left - 6.0).to_string()} y=y text-anchor="end" dominant-baseline="middle">{format!("{p:.0}%")}</text>
                    }
                }).collect_view()}
                <line class="axis-line" x1={left.to_string()} x2={left.to_string()} y1={top.to_string()} y2={bottom.to_string()}/>
                <polyline points=line/>
                {xy.iter().copied().zip(points.clone()).enumerate().map(|(i, ((x, y), (d, p)))| view! {
                    <circle cx={format!("{x:.1}")} cy={format!("{y:.1}")} r="3"><title>{format!("{d}: {p:.1}%")}</title></circle>
                    {values.then(|| view! { <text class="value" x={format!("{x:.1}")} y={format!("{:.1}", y - 7.0)} text-anchor="middle">{format!("{p:.0}%")}</text> })}
                    {dated.contains(&i).then(|| view! { <text class="axis" x={format!("{x:.1}")} y="128" text-anchor="middle">{d.clone()}</text> })}
                }).collect_view()}
            </svg>
            <p class="muted">{label}</p>
        </section>
    }
}

#[component]
fn Compliance(c: ComplianceView) -> impl IntoView {
    let failing: i64 = c.by_state.iter().filter(|(s, _)| s == "NonCompliant").map(|(_, n)| *n).sum();
    view! {
        <section class="cards" aria-label="Compliance" data-testid="compliance">
            <div class="card">
                <span class="compliance-figure" data-testid="compliance-figure">{c.compliance.map(|p| format!("{p:.1}%")).unwrap_or_else(|| "n/a".into())}</span>
                <span class="card-label">"resources compliant"</span>
                <span class="card-note muted">"as Azure computes it: compliant, exempt and unknown over all evaluated"</span>
            </div>
            <div class="card">
                <span class="card-figure"><a href={href(&FindingsQuery { state: "NonCompliant".into(), ..Default::default() })} data-testid="failing-link">{failing}</a></span>
                <span class="card-label">"non-compliant findings"</span>
                <span class="card-note muted">{c.by_state.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(" · ")}</span>
            </div>
        </section>
        <div class="grid-2">
            <Bars label="Failing by severity" rows=c.failing_by_severity.clone()
                  link=|k| FindingsQuery { state: "NonCompliant".into(), severity: k.into(), ..Default::default() }/>
            <Bars label="Failing by control area" rows=c.failing_by_area.clone()
                  link=|k| FindingsQuery { state: "NonCompliant".into(), area: k.into(), ..Default::default() }/>
        </div>
        <Bars label="Failing by framework" rows=c.failing_by_framework.clone()
              link=|k| FindingsQuery { state: "NonCompliant".into(), framework: k.into(), ..Default::default() }/>
        <Trend points=c.trend.clone()/>
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let summary = Resource::new(|| (), |_| dashboard_summary());
    let compliance = Resource::new(|| (), |_| compliance_summary());
    view! {
        <Layout title="Dashboard">
            <h1>"Dashboard"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(s) => view! {
                            <section class="panel empty-state" data-testid="estate-status">
                                <h2>"Estate"</h2>
                                {if s.snapshots == 0 {
                                    view! {
                                        <p>"No snapshot of an Azure estate has been imported yet, so there are no findings to report."</p>
                                        <p class="muted">"Compliance figures appear here once a scan or an uploaded snapshot is stored."</p>
                                    }.into_any()
                                } else {
                                    view! {
                                        <p>{format!("{} snapshot{} stored.", s.snapshots, if s.snapshots == 1 { "" } else { "s" })}
                                           " The newest evaluated one is summarised below; "<a href="/findings">"all findings"</a>"."</p>
                                    }.into_any()
                                }}
                            </section>
                            <Suspense fallback=|| ()>
                                {move || Suspend::new(async move {
                                    match compliance.await {
                                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                                        Ok(c) if c.snapshot_id.is_none() => ().into_any(),
                                        Ok(c) => view! { <Compliance c/> }.into_any(),
                                    }
                                })}
                            </Suspense>
                            <section class="cards" aria-label="Portal">
                                <div class="card">
                                    <span class="card-figure" data-testid="users-count">{s.users}</span>
                                    <span class="card-label">"accounts"</span>
                                    <span class="card-note muted">{format!("{} disabled", s.disabled_users)}</span>
                                </div>
                                <div class="card">
                                    <span class="card-figure">{s.active_tokens}</span>
                                    <span class="card-label">"active API tokens"</span>
                                </div>
                                <div class="card">
                                    <span class="card-figure">{s.audit_entries}</span>
                                    <span class="card-label">"audit-log entries"</span>
                                    <span class="card-note muted">{s.last_audit_at.map(|t| format!("latest {t}")).unwrap_or_else(|| "none yet".into())}</span>
                                </div>
                            </section>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
