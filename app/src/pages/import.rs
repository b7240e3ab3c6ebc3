//! The upload page: an admin chooses a snapshot file (JSON or gzip) and the
//! server stores it as `attest import` would. The form posts as plain
//! multipart, so it works before the page has hydrated.

use crate::{
    components::{
        layout::Layout,
        notice::{flash_for, FlashNote},
    },
    UserResource,
};
use leptos::prelude::*;

#[component]
pub fn Import() -> impl IntoView {
    let user = expect_context::<UserResource>();
    let flash = flash_for(|| "import".into());
    view! {
        <Layout title="Import a snapshot">
            <p class="crumbs"><a href="/snapshots">"Snapshots"</a>" / import"</p>
            <h1>"Import a snapshot"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let admin = user.await.ok().flatten().is_some_and(|u| u.is_admin());
                    if !admin {
                        return view! {
                            <p class="panel empty-state">"Only admins import snapshots. Ask an admin, or have your pipeline use the API with an admin's token."</p>
                        }.into_any();
                    }
                    view! {
                        <FlashNote flash testid="import" prefix="Not imported: "/>
                        <section class="panel">
                            <form method="post" action="/upload/snapshot" enctype="multipart/form-data" class="form" data-testid="import-form">
                                <label for="snapshot-file">"Snapshot file (from "<code>"attest scan --out"</code>", JSON or .gz)"</label>
                                <input id="snapshot-file" name="file" type="file" required accept=".json,.gz,application/json,application/gzip"/>
                                <button type="submit" class="btn btn-primary">"Import"</button>
                            </form>
                            <p class="muted">"The same file imported twice is stored once. A file that does not parse is refused whole, with the field and the line and column where it went wrong."</p>
                        </section>
                        <section class="panel">
                            <h2>"Without the browser"</h2>
                            <p><code>"attest import FILE"</code>" on the server, or "<code>"curl -H 'Authorization: Bearer TOKEN' --data-binary @FILE /api/v1/snapshots"</code>"."</p>
                        </section>
                    }.into_any()
                })}
            </Suspense>
        </Layout>
    }
}
