//! Form behaviour the pages share: a form that empties itself once its
//! action succeeds, and a button that asks before it does something that
//! cannot be undone.

use leptos::prelude::*;

/// A node ref for an `ActionForm` that clears the form when `value` (the
/// action's result) turns to success. A failure leaves what was typed, so
/// nothing is lost to a mistake.
pub fn cleared_on_success<S, T, E>(value: S) -> NodeRef<leptos::html::Form>
where
    S: With<Value = Option<Result<T, E>>> + Send + Sync + 'static,
    T: 'static,
    E: 'static,
{
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if value.with(|v| matches!(v, Some(Ok(_)))) {
            if let Some(f) = form.get_untracked() {
                f.reset();
            }
        }
    });
    form
}

/// A button that, when pressed, asks "`question`" with a confirm and a
/// cancel button beside it; only the confirm runs `on_confirm`.
#[component]
pub fn ConfirmButton(
    /// What the first button says ("Revoke").
    label: &'static str,
    /// Its accessible name, naming what it acts on.
    #[prop(into)]
    aria_label: String,
    /// The question, naming the consequence.
    #[prop(into)]
    question: String,
    /// What the confirming button says ("Yes, revoke").
    confirm: &'static str,
    on_confirm: Callback<()>,
    #[prop(optional)] testid: &'static str,
    #[prop(default = "btn btn-quiet")] class: &'static str,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let question = StoredValue::new(question);
    view! {
        <span class="confirm" data-testid=testid>
            <Show
                when=move || asking.get()
                fallback=move || view! {
                    <button type="button" class=class aria-label=aria_label.clone() on:click=move |_| asking.set(true)>{label}</button>
                }
            >
                <span class="confirm-ask" role="alertdialog" aria-live="assertive">
                    <span>{move || question.get_value()}</span>
                    <button type="button" class="btn btn-danger" data-testid="confirm-yes"
                        on:click=move |_| { asking.set(false); on_confirm.run(()); }>{confirm}</button>
                    <button type="button" class="btn btn-quiet" data-testid="confirm-no" on:click=move |_| asking.set(false)>"Cancel"</button>
                </span>
            </Show>
        </span>
    }
}

/// A counter that moves only when `value` (an action's result) turns to
/// success: what a page's data refetches on, so that a failed submission
/// does not re-render, and so empty, the form it came from.
pub fn successes<S, T, E>(value: S) -> RwSignal<u64>
where
    S: With<Value = Option<Result<T, E>>> + Send + Sync + 'static,
    T: 'static,
    E: 'static,
{
    let n = RwSignal::new(0u64);
    Effect::new(move |_| {
        if value.with(|v| matches!(v, Some(Ok(_)))) {
            n.update(|n| *n += 1);
        }
    });
    n
}
