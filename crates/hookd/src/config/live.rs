//! [`Live`]: the one owner of the configuration in force.
//!
//! At start it lays the objects stored through the API over the file and refuses to start
//! when they no longer fit it. Afterwards every edit goes through an [`Editor`], one at a
//! time: the edit is laid over the file with every other stored object, the result gets
//! the file's checks, the object is written to the store, and the rebuilt [`Config`] is
//! sent on the watch channel every stage reads, so the next request and the next claimed
//! job use it. [`Live::follow`] reloads the stored objects whenever the store reports
//! that one changed (an edit on another node).
//!
//! Only sources, routes, queues and destinations change; `[server]`, `[api]` and the
//! other sections stay as the node started with them.

use std::sync::Arc;

use anyhow::Context as _;
use hookd_store::{ConfigKind, ConfigObject, Millis, Store, StoreChange, StoreError};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Mutex, MutexGuard, watch};
use tokio_util::sync::CancellationToken;
use toml::{Table, Value};

use super::Config;
use super::check::{Problem, QUEUE_DEFAULT};
use super::overlay;
use crate::clock;

/// The configuration in force, and the stored objects it was built from.
pub struct Live {
    store: Arc<dyn Store>,
    /// The configuration the node started with, from the file alone: its `[server]`,
    /// `[api]` and other fixed sections, and the file layer.
    base: Arc<Config>,
    tx: watch::Sender<Arc<Config>>,
    state: Mutex<State>,
}

/// What the configuration in force was built from.
struct State {
    /// Every stored object, as last read or written.
    objects: Vec<ConfigObject>,
    /// The file with `objects` laid over it.
    merged: Table,
}

/// A configuration that checked out: the configuration, its warnings, and the table it
/// was built from.
type Built = (Config, Vec<Problem>, Table);

impl Live {
    /// Lays the stored objects over `config` (loaded from the file) and makes the result
    /// the configuration in force.
    ///
    /// # Errors
    ///
    /// When the stored objects cannot be read, or no longer fit the file: the message
    /// names each object with its problems.
    pub async fn start(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Arc<Self>> {
        let objects = store
            .config_object_list()
            .await
            .context("reading the configuration objects stored through the API")?;
        let base = Arc::new(config);
        let (config, _, merged) =
            build(&base, &objects).map_err(|(problems, merged)| misfit(&problems, &merged))?;
        let (tx, _) = watch::channel(Arc::new(config));
        Ok(Arc::new(Self {
            store,
            base,
            tx,
            state: Mutex::new(State { objects, merged }),
        }))
    }

    /// A receiver of the configuration in force, which sees every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.tx.subscribe()
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<Config> {
        self.tx.borrow().clone()
    }

    /// Waits for the edits before this one to finish and returns the editor; edits are
    /// applied one at a time.
    pub(crate) async fn edit(&self) -> Editor<'_> {
        Editor {
            live: self,
            state: self.state.lock().await,
        }
    }

    /// Reloads the stored objects whenever the store reports that one changed (an edit on
    /// this node or another), until `shutdown`.
    pub(crate) async fn follow(self: Arc<Self>, shutdown: CancellationToken) {
        let mut changes = self.store.subscribe();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                change = changes.recv() => match change {
                    Ok(StoreChange::ConfigChanged) | Err(RecvError::Lagged(_)) => {
                        self.reload().await;
                    }
                    Ok(_) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }

    /// Reads the stored objects again and puts them in force when they changed and fit.
    async fn reload(&self) {
        let mut state = self.state.lock().await;
        let objects = match self.store.config_object_list().await {
            Ok(objects) => objects,
            Err(error) => {
                tracing::warn!(%error, "the configuration objects could not be read again");
                return;
            }
        };
        if objects == state.objects {
            return;
        }
        match build(&self.base, &objects) {
            Ok((config, _, merged)) => {
                *state = State { objects, merged };
                self.tx.send_replace(Arc::new(config));
                tracing::info!("configuration objects changed; the new configuration is in force");
            }
            Err((problems, merged)) => {
                tracing::error!(
                    problems = %misfit(&problems, &merged),
                    "the stored configuration objects changed but do not fit this node's file; \
                     the configuration in force stays as it was"
                );
            }
        }
    }
}

/// Lays `objects` over the file of `base` and checks the result; `base` with the
/// sources, routes, queues and destinations of the result. On failure, the problems and
/// the table they are about.
fn build(base: &Config, objects: &[ConfigObject]) -> Result<Built, (Vec<Problem>, Table)> {
    let mut merged = (*base.file).clone();
    if let Err(problems) = overlay::apply(&mut merged, objects) {
        return Err((problems, merged));
    }
    match overlay::check_table(overlay::for_edits(&merged)) {
        Ok((checked, warnings)) => {
            let mut config = base.clone();
            config.sources = checked.sources;
            config.routes = checked.routes;
            config.queues = checked.queues;
            config.destinations = checked.destinations;
            Ok((config, warnings, merged))
        }
        Err(problems) => Err((problems, merged)),
    }
}

/// The error of a start whose stored objects no longer fit the file.
fn misfit(problems: &[Problem], merged: &Table) -> anyhow::Error {
    let lines: Vec<String> = problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| match overlay::owner(merged, &p.path) {
            Some((kind, name)) => format!("{} {name:?}: {p}", kind.as_str()),
            None => p.to_string(),
        })
        .collect();
    anyhow::anyhow!(
        "the configuration objects stored through the API do not fit the configuration file; \
         fix the file, or change or delete the objects through /v1/config:\n{}",
        lines.join("\n")
    )
}

/// Where an object of the effective configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The configuration file (and `HOOKD_*` variables).
    File,
    /// An edit through the API, stored in the store.
    Api,
}

/// One object of the effective configuration.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Its name.
    pub(crate) name: String,
    /// Where it comes from.
    pub(crate) origin: Origin,
    /// Its keys, secrets included.
    pub(crate) table: Table,
    /// For an object from the API: when it was written, and by whom.
    pub(crate) updated: Option<(Millis, String)>,
}

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EditError {
    /// The configuration would not check out: every error, each named by a JSON pointer
    /// into the object when it lies there, else by its key path.
    #[error("the configuration would not be valid")]
    Invalid(Vec<(String, String)>),
    /// There is no such object.
    #[error("there is no {kind} {name:?}", kind = .0.as_str(), name = .1)]
    NotFound(ConfigKind, String),
    /// The rest of the configuration, or the store's jobs, still need the object.
    #[error("{0}")]
    Conflict(String),
    /// The store could not write the object; nothing changed.
    #[error("the store could not write the object")]
    Store(#[from] StoreError),
}

/// Exclusive access to the configuration for one edit: reads see the configuration as
/// it is, and writes are checked against it.
pub(crate) struct Editor<'a> {
    live: &'a Live,
    state: MutexGuard<'a, State>,
}

impl Editor<'_> {
    /// Every object of `kind` in the effective configuration.
    pub(crate) fn entries(&self, kind: ConfigKind) -> Vec<Entry> {
        overlay::entries(&self.state.merged, kind)
            .into_iter()
            .map(|(name, table)| self.entry_of(kind, name, table))
            .collect()
    }

    /// The object `kind`/`name` of the effective configuration.
    pub(crate) fn entry(&self, kind: ConfigKind, name: &str) -> Option<Entry> {
        overlay::object(&self.state.merged, kind, name)
            .map(|table| self.entry_of(kind, name.to_owned(), table))
    }

    fn entry_of(&self, kind: ConfigKind, name: String, table: &Table) -> Entry {
        let stored = self
            .state
            .objects
            .iter()
            .find(|o| o.kind == kind && o.name == name && o.body.is_some());
        Entry {
            origin: if stored.is_some() {
                Origin::Api
            } else {
                Origin::File
            },
            updated: stored.map(|o| (o.updated_at, o.updated_by.clone())),
            table: table.clone(),
            name,
        }
    }

    /// Creates or replaces the object `kind`/`name` with `table`, on behalf of `actor`,
    /// and puts the result in force. Returns the warnings about the object.
    ///
    /// # Errors
    ///
    /// [`EditError::Invalid`] with every problem when the result would not check out,
    /// [`EditError::Store`] when the object could not be stored.
    pub(crate) async fn put(
        &mut self,
        kind: ConfigKind,
        name: &str,
        mut table: Table,
        actor: &str,
    ) -> Result<Vec<(String, String)>, EditError> {
        if kind == ConfigKind::Route {
            table.insert("name".to_owned(), Value::String(name.to_owned()));
        }
        let body = serde_json::Value::Object(overlay::table_to_json(&table)).to_string();
        let object = ConfigObject {
            kind,
            name: name.to_owned(),
            body: Some(body),
            updated_at: clock::now_millis(),
            updated_by: actor.to_owned(),
        };
        let (built, seen_in) = self.try_with(&object);
        let (config, warnings, merged) = built
            .map_err(|problems| EditError::Invalid(locate(&problems, &seen_in, &object, true)))?;
        let warnings = locate(&warnings, &seen_in, &object, false)
            .into_iter()
            .filter(|(at, _)| at.starts_with('/') || at == "path.name")
            .collect();
        self.commit(object, config, merged).await?;
        Ok(warnings)
    }

    /// Deletes the object `kind`/`name` (a file's object stays hidden), on behalf of
    /// `actor`, and puts the result in force.
    ///
    /// # Errors
    ///
    /// [`EditError::NotFound`] when there is no such object; [`EditError::Conflict`] for
    /// the `default` queue, an object a route still names, a queue that still holds
    /// unfinished jobs, or anything else the rest of the configuration needs it for;
    /// [`EditError::Store`] when the store fails.
    pub(crate) async fn delete(
        &mut self,
        kind: ConfigKind,
        name: &str,
        actor: &str,
    ) -> Result<(), EditError> {
        if kind == ConfigKind::Queue && name == QUEUE_DEFAULT {
            return Err(EditError::Conflict(format!(
                "the queue {QUEUE_DEFAULT:?} always exists: routes without a queue use it; \
                 change its settings instead"
            )));
        }
        let merged = &self.state.merged;
        if overlay::object(merged, kind, name).is_none() {
            return Err(EditError::NotFound(kind, name.to_owned()));
        }
        let users = referring_routes(merged, kind, name);
        if !users.is_empty() {
            return Err(EditError::Conflict(format!(
                "{} {} still {} {} {name:?}; change or delete {} first",
                if users.len() == 1 { "route" } else { "routes" },
                users
                    .iter()
                    .map(|r| format!("{r:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if users.len() == 1 { "names" } else { "name" },
                kind.as_str(),
                if users.len() == 1 { "it" } else { "them" },
            )));
        }
        if kind == ConfigKind::Queue {
            let now = clock::now_millis();
            let unfinished: u64 = self
                .live
                .store
                .queue_stats(now, now)
                .await?
                .into_iter()
                .filter(|s| s.queue == name)
                .map(|s| s.scheduled + s.ready + s.running + s.retrying)
                .sum();
            if unfinished > 0 {
                return Err(EditError::Conflict(format!(
                    "queue {name:?} still holds {unfinished} unfinished jobs; let them finish \
                     (or pause the queue, and purge them once dead) before deleting it"
                )));
            }
        }
        let object = ConfigObject {
            kind,
            name: name.to_owned(),
            body: None,
            updated_at: clock::now_millis(),
            updated_by: actor.to_owned(),
        };
        let (built, seen_in) = self.try_with(&object);
        let (config, _, merged) = built.map_err(|problems| {
            EditError::Conflict(format!(
                "the rest of the configuration still needs {} {name:?}: {}",
                kind.as_str(),
                locate(&problems, &seen_in, &object, true)
                    .iter()
                    .map(|(at, problem)| format!("{at}: {problem}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        self.commit(object, config, merged).await
    }

    /// The configuration with `object` stored, and the table its problems are about.
    fn try_with(&self, object: &ConfigObject) -> (Result<Built, Vec<Problem>>, Table) {
        let mut objects = self.state.objects.clone();
        match objects
            .iter_mut()
            .find(|o| o.kind == object.kind && o.name == object.name)
        {
            Some(stored) => *stored = object.clone(),
            None => objects.push(object.clone()),
        }
        let (built, merged) = match build(&self.live.base, &objects) {
            Ok(built) => {
                let merged = built.2.clone();
                (Ok(built), merged)
            }
            Err((problems, merged)) => (Err(problems), merged),
        };
        // A deleted object is looked for where it was.
        let seen_in = if object.body.is_some() {
            merged
        } else {
            self.state.merged.clone()
        };
        (built, seen_in)
    }

    /// Stores `object` and puts `config` in force.
    async fn commit(
        &mut self,
        object: ConfigObject,
        config: Config,
        merged: Table,
    ) -> Result<(), EditError> {
        self.live.store.config_object_put(object.clone()).await?;
        match self
            .state
            .objects
            .iter_mut()
            .find(|o| o.kind == object.kind && o.name == object.name)
        {
            Some(stored) => *stored = object,
            None => self.state.objects.push(object),
        }
        self.state.merged = merged;
        self.live.tx.send_replace(Arc::new(config));
        Ok(())
    }
}

/// `problems` (only the errors, when `errors`), each named where it lies for an edit of
/// `object` (see [`overlay::locate`]).
fn locate(
    problems: &[Problem],
    seen_in: &Table,
    object: &ConfigObject,
    errors: bool,
) -> Vec<(String, String)> {
    problems
        .iter()
        .filter(|p| !errors || p.is_error())
        .map(|p| {
            let at = overlay::locate(seen_in, object.kind, &object.name, &p.path);
            (at, p.message.clone())
        })
        .collect()
}

/// The names of the routes of `merged` that name the object `kind`/`name`.
fn referring_routes(merged: &Table, kind: ConfigKind, name: &str) -> Vec<String> {
    let (key, default) = match kind {
        ConfigKind::Source => ("source", None),
        ConfigKind::Queue => ("queue", Some(QUEUE_DEFAULT)),
        ConfigKind::Destination => ("destination", None),
        ConfigKind::Route => return Vec::new(),
    };
    overlay::entries(merged, ConfigKind::Route)
        .into_iter()
        .filter(|(_, route)| match route.get(key) {
            Some(Value::String(s)) => s == name,
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(name)),
            Some(_) => false,
            None => default == Some(name),
        })
        .map(|(route, _)| route)
        .collect()
}
