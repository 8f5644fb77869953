//! The immutable subscription [`Snapshot`] the decision reads, how it is built (from data API pages or from
//! the static list of the configuration), and its shared-data bytes.
//!
//! A snapshot keeps only what the decision needs:
//! * per consumer key: its key mapping(s) — key manager (interned), key type, and the application: an index,
//!   or "exists but has no subscription to a protected API", or "no such application";
//! * per application subscribed to a protected API: id, UUID, name, the configured attributes (interned
//!   names; every other attribute is dropped), and its subscriptions to the protected APIs (state, whether
//!   the API is lifecycle-`BLOCKED`).
//!
//! Applications and subscriptions that concern no protected API are not kept.

use super::codec::{self, Reader, Writer};
use super::data_api::{self, Collection, DataApiRequest, DataApiSettings};
use super::model::{
    Api, Application, ApplicationKeyMapping, KeyType, ProtectedApi, Subscription, SubscriptionState,
};
use super::{DataError, DataErrorKind};
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Most pages the builder accepts per collection (APIM sends one; this only stops a `next` loop).
pub const MAX_PAGES: u32 = 10_000;

/// What the snapshot is built for: taken from the plugin configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotOptions {
    /// The APIs this filter protects (1 to 255).
    pub apis: Vec<ProtectedApi>,
    /// Application attributes kept for the adapter (e.g. the organisation id for the certificate check).
    pub attributes: Vec<String>,
    /// The attribute name under which a static application's `organisation` is stored (also kept from the
    /// data API).
    pub organisation_attribute: Option<String>,
}

impl SnapshotOptions {
    fn check(&self) -> Result<(), DataError> {
        if self.apis.is_empty() || self.apis.len() > usize::from(u8::MAX) {
            return Err(DataError::new(
                DataErrorKind::Invalid,
                "between 1 and 255 protected APIs must be configured",
            ));
        }
        Ok(())
    }

    fn keeps(&self, attribute: &str) -> bool {
        self.organisation_attribute.as_deref() == Some(attribute)
            || self.attributes.iter().any(|a| a == attribute)
    }
}

/// Where a snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotSource {
    DataApi,
    Static,
}

/// Counts for the adapter's log line after a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotSummary {
    /// Applications in the data (all of them, subscribed or not).
    pub applications: u32,
    /// Applications kept: those with a subscription to a protected API.
    pub subscribed_applications: u32,
    /// Subscriptions to a protected API.
    pub subscriptions: u32,
    /// Key mappings kept.
    pub key_mappings: u32,
    /// Records dropped as unusable (no identifier, unknown key type, empty consumer key).
    pub skipped: u32,
    /// Consumer keys dropped because two records of one key manager disagree.
    pub conflicts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiSlot {
    pub selector: ProtectedApi,
    /// Whether at least one `/apis` entry matched (always true for a static list).
    pub resolved: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubEntry {
    pub api: u8,
    pub state: SubscriptionState,
    pub api_blocked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppEntry {
    pub id: i64,
    pub uuid: Box<str>,
    pub name: Box<str>,
    /// (interned attribute name, value).
    pub attributes: Box<[(u16, Box<str>)]>,
    pub subs: Box<[SubEntry]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppRef {
    /// The key mapping names an application the data does not have.
    Missing,
    /// The application exists but has no subscription to a protected API.
    Unsubscribed,
    Index(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyEntry {
    /// Interned key manager name; `None` when the data names none.
    pub key_manager: Option<u16>,
    pub key_type: KeyType,
    pub app: AppRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Keys {
    One(KeyEntry),
    /// The same consumer key under several key managers.
    Many(Box<[KeyEntry]>),
}

/// Subscription data at one point in time; never changes. Replace it whole with a newer one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub(crate) source: SnapshotSource,
    pub(crate) summary: SnapshotSummary,
    pub(crate) apis: Vec<ApiSlot>,
    pub(crate) key_managers: Vec<Box<str>>,
    pub(crate) attribute_names: Vec<Box<str>>,
    pub(crate) apps: Vec<AppEntry>,
    pub(crate) keys: HashMap<Box<str>, Keys>,
}

impl Snapshot {
    pub fn source(&self) -> SnapshotSource {
        self.source
    }

    pub fn summary(&self) -> SnapshotSummary {
        self.summary
    }

    /// Protected APIs no `/apis` entry matched (a configuration mistake, or the API is not deployed): every
    /// request for them is refused 900908. The adapter should log these.
    pub fn unresolved_apis(&self) -> impl Iterator<Item = &ProtectedApi> {
        self.apis
            .iter()
            .filter(|slot| !slot.resolved)
            .map(|slot| &slot.selector)
    }

    pub(crate) fn api_slot(&self, api: &ProtectedApi) -> Option<u8> {
        self.apis
            .iter()
            .position(|slot| &slot.selector == api)
            .and_then(|i| u8::try_from(i).ok())
    }

    pub(crate) fn attribute_name(&self, index: u16) -> Option<&str> {
        self.attribute_names.get(usize::from(index)).map(|s| &**s)
    }

    pub(crate) fn key_manager_index(&self, name: &str) -> Option<u16> {
        self.key_managers
            .iter()
            .position(|km| &**km == name)
            .and_then(|i| u16::try_from(i).ok())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Building: from the data API

/// Accumulates the pages of the four collections; [`SnapshotBuilder::build`] validates them and makes the
/// snapshot once every collection is complete. Build a new one for every refresh and swap the snapshot only
/// on success: a failed load leaves the previous snapshot in place.
///
/// ```text
/// let mut builder = SnapshotBuilder::new(options);
/// for request in builder.first_requests(&settings) { dispatch(request) }         // may run in parallel
/// on each answer: if let Some(next) = builder.accept(&settings, &request, status, &body)? { dispatch(next) }
/// when builder.is_complete(): let snapshot = builder.build()?;
/// ```
#[derive(Debug)]
pub struct SnapshotBuilder {
    options: SnapshotOptions,
    apis: Vec<Api>,
    applications: Vec<Application>,
    key_mappings: Vec<ApplicationKeyMapping>,
    subscriptions: Vec<Subscription>,
    complete: [bool; 4],
    pages: [u32; 4],
}

impl SnapshotBuilder {
    pub fn new(options: SnapshotOptions) -> Self {
        SnapshotBuilder {
            options,
            apis: Vec::new(),
            applications: Vec::new(),
            key_mappings: Vec::new(),
            subscriptions: Vec::new(),
            complete: [false; 4],
            pages: [0; 4],
        }
    }

    /// The first page of each collection.
    pub fn first_requests(&self, settings: &DataApiSettings) -> Vec<DataApiRequest> {
        Collection::ALL
            .iter()
            .map(|c| settings.first_request(*c))
            .collect()
    }

    /// Take one answer: `status` must be 200 and `body` a list response of the request's collection. Returns
    /// the request for the next page of that collection, or `None` when the collection is complete.
    pub fn accept(
        &mut self,
        settings: &DataApiSettings,
        request: &DataApiRequest,
        status: u16,
        body: &[u8],
    ) -> Result<Option<DataApiRequest>, DataError> {
        let what = request.collection.path();
        if status != 200 {
            return Err(DataError::new(
                DataErrorKind::Status,
                format!("{what}: status {status}"),
            ));
        }
        let pagination = match request.collection {
            Collection::Apis => {
                let page = data_api::parse_apis(body)?;
                self.add(Collection::Apis)?;
                self.apis.extend(page.items);
                page.pagination
            }
            Collection::Applications => {
                let page = data_api::parse_applications(body)?;
                self.add(Collection::Applications)?;
                let options = &self.options;
                self.applications
                    .extend(page.items.into_iter().map(|mut app| {
                        app.attributes.retain(|name, _| options.keeps(name));
                        app
                    }));
                page.pagination
            }
            Collection::KeyMappings => {
                let page = data_api::parse_key_mappings(body)?;
                self.add(Collection::KeyMappings)?;
                self.key_mappings.extend(page.items);
                page.pagination
            }
            Collection::Subscriptions => {
                let page = data_api::parse_subscriptions(body)?;
                self.add(Collection::Subscriptions)?;
                self.subscriptions.extend(page.items);
                page.pagination
            }
        };
        let next = settings.next_request(request, pagination.as_ref())?;
        if next.is_none() {
            if let Some(done) = self.complete.get_mut(request.collection.index()) {
                *done = true;
            }
        }
        Ok(next)
    }

    fn add(&mut self, collection: Collection) -> Result<(), DataError> {
        let i = collection.index();
        if self.complete.get(i).copied().unwrap_or(true) {
            return Err(DataError::new(
                DataErrorKind::Incomplete,
                format!("{}: a page after the last one", collection.path()),
            ));
        }
        if let Some(pages) = self.pages.get_mut(i) {
            *pages += 1;
            if *pages > MAX_PAGES {
                return Err(DataError::paging(format!(
                    "{}: more than {MAX_PAGES} pages",
                    collection.path()
                )));
            }
        }
        Ok(())
    }

    /// Add a parsed page directly (tests, or an adapter that parses itself); `last` marks the collection
    /// complete.
    pub fn add_apis(&mut self, items: Vec<Api>, last: bool) -> Result<(), DataError> {
        self.add(Collection::Apis)?;
        self.apis.extend(items);
        self.mark(Collection::Apis, last);
        Ok(())
    }

    pub fn add_applications(
        &mut self,
        items: Vec<Application>,
        last: bool,
    ) -> Result<(), DataError> {
        self.add(Collection::Applications)?;
        let options = &self.options;
        self.applications.extend(items.into_iter().map(|mut app| {
            app.attributes.retain(|name, _| options.keeps(name));
            app
        }));
        self.mark(Collection::Applications, last);
        Ok(())
    }

    pub fn add_key_mappings(
        &mut self,
        items: Vec<ApplicationKeyMapping>,
        last: bool,
    ) -> Result<(), DataError> {
        self.add(Collection::KeyMappings)?;
        self.key_mappings.extend(items);
        self.mark(Collection::KeyMappings, last);
        Ok(())
    }

    pub fn add_subscriptions(
        &mut self,
        items: Vec<Subscription>,
        last: bool,
    ) -> Result<(), DataError> {
        self.add(Collection::Subscriptions)?;
        self.subscriptions.extend(items);
        self.mark(Collection::Subscriptions, last);
        Ok(())
    }

    fn mark(&mut self, collection: Collection, last: bool) {
        if let Some(done) = self.complete.get_mut(collection.index()) {
            *done |= last;
        }
    }

    /// Whether every collection has had its last page.
    pub fn is_complete(&self) -> bool {
        self.complete.iter().all(|c| *c)
    }

    /// Collections still waiting for pages.
    pub fn pending(&self) -> Vec<Collection> {
        Collection::ALL
            .iter()
            .copied()
            .filter(|c| !self.complete.get(c.index()).copied().unwrap_or(false))
            .collect()
    }

    /// Validate and make the snapshot.
    pub fn build(self) -> Result<Snapshot, DataError> {
        if !self.is_complete() {
            return Err(DataError::new(
                DataErrorKind::Incomplete,
                format!(
                    "not every collection is loaded: {:?} pending",
                    self.pending()
                ),
            ));
        }
        self.options.check()?;
        let mut acc = Accumulator::new(&self.options, SnapshotSource::DataApi);

        // APIs: which `/apis` entries are the protected ones.
        let mut api_by_uuid: HashMap<&str, (u8, bool)> = HashMap::new();
        let mut api_by_id: HashMap<i64, (u8, bool)> = HashMap::new();
        for api in &self.apis {
            for (slot, selector) in self.options.apis.iter().enumerate() {
                if !selector.matches(api) {
                    continue;
                }
                let slot = u8::try_from(slot).unwrap_or(u8::MAX);
                let blocked = api.status.as_deref() == Some("BLOCKED");
                if let Some(s) = acc.apis.get_mut(usize::from(slot)) {
                    s.resolved = true;
                }
                if let Some(uuid) = api.uuid.as_deref().filter(|u| !u.is_empty()) {
                    api_by_uuid.insert(uuid, (slot, blocked));
                }
                if let Some(id) = api.api_id {
                    api_by_id.insert(id, (slot, blocked));
                }
                break;
            }
        }

        // Applications.
        let mut app_by_uuid: HashMap<&str, usize> = HashMap::new();
        let mut app_by_id: HashMap<i64, usize> = HashMap::new();
        for (i, app) in self.applications.iter().enumerate() {
            let uuid = app.uuid.as_deref().filter(|u| !u.is_empty());
            if uuid.is_none() && app.id.is_none() {
                acc.summary.skipped += 1;
                continue;
            }
            acc.summary.applications += 1;
            if let Some(uuid) = uuid {
                app_by_uuid.insert(uuid, i);
            }
            if let Some(id) = app.id {
                app_by_id.insert(id, i);
            }
        }
        let find_app = |uuid: Option<&str>, id: Option<i64>| -> Option<usize> {
            match uuid.filter(|u| !u.is_empty()) {
                Some(uuid) => app_by_uuid.get(uuid).copied(),
                None => id.and_then(|id| app_by_id.get(&id).copied()),
            }
        };

        // Subscriptions to protected APIs, per application (the stricter state wins on duplicates).
        let mut subs: HashMap<usize, Vec<SubEntry>> = HashMap::new();
        for sub in &self.subscriptions {
            let api = match sub.api_uuid.as_deref().filter(|u| !u.is_empty()) {
                Some(uuid) => api_by_uuid.get(uuid),
                None => sub.api_id.and_then(|id| api_by_id.get(&id)),
            };
            let Some(&(slot, api_blocked)) = api else {
                continue; // another API
            };
            let (Some(state), Some(app)) = (
                sub.subscription_state.as_deref(),
                find_app(sub.application_uuid.as_deref(), sub.app_id),
            ) else {
                acc.summary.skipped += 1;
                continue;
            };
            let entry = SubEntry {
                api: slot,
                state: SubscriptionState::parse(state),
                api_blocked,
            };
            let list = subs.entry(app).or_default();
            match list.iter_mut().find(|e| e.api == slot) {
                Some(existing) if existing.state.severity() >= entry.state.severity() => {}
                Some(existing) => *existing = entry,
                None => list.push(entry),
            }
        }

        let mut index_of: HashMap<usize, u32> = HashMap::new();
        let mut ordered: Vec<(usize, Vec<SubEntry>)> = subs.into_iter().collect();
        ordered.sort_unstable_by_key(|(i, _)| *i);
        for (i, entries) in ordered {
            let Some(app) = self.applications.get(i) else {
                continue;
            };
            let attributes = app
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<BTreeMap<_, _>>();
            let index = acc.push_app(
                app.id.unwrap_or(0),
                app.uuid.as_deref().unwrap_or_default(),
                app.name.as_deref().unwrap_or_default(),
                attributes,
                entries,
            )?;
            index_of.insert(i, index);
        }

        // Key mappings.
        for km in &self.key_mappings {
            let (Some(consumer_key), Some(key_type)) = (
                km.consumer_key.as_deref().filter(|k| !k.is_empty()),
                km.key_type.as_deref().and_then(KeyType::parse),
            ) else {
                acc.summary.skipped += 1;
                continue;
            };
            if km.application_uuid.as_deref().is_none_or(str::is_empty)
                && km.application_id.is_none()
            {
                acc.summary.skipped += 1;
                continue;
            }
            let app = match find_app(km.application_uuid.as_deref(), km.application_id) {
                None => AppRef::Missing,
                Some(i) => index_of
                    .get(&i)
                    .map_or(AppRef::Unsubscribed, |ix| AppRef::Index(*ix)),
            };
            acc.add_key(consumer_key, km.key_manager.as_deref(), key_type, app)?;
        }
        acc.finish()
    }
}

fn count32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Shared by both builders: interning, key conflicts, the final maps.
struct Accumulator {
    source: SnapshotSource,
    summary: SnapshotSummary,
    apis: Vec<ApiSlot>,
    key_managers: Vec<Box<str>>,
    attribute_names: Vec<Box<str>>,
    apps: Vec<AppEntry>,
    /// (consumer key, key manager) → entry; `None` once two records disagree.
    keys: HashMap<(Box<str>, Option<u16>), Option<KeyEntry>>,
}

impl Accumulator {
    fn new(options: &SnapshotOptions, source: SnapshotSource) -> Self {
        Accumulator {
            source,
            summary: SnapshotSummary::default(),
            apis: options
                .apis
                .iter()
                .map(|selector| ApiSlot {
                    selector: selector.clone(),
                    resolved: source == SnapshotSource::Static,
                })
                .collect(),
            key_managers: Vec::new(),
            attribute_names: Vec::new(),
            apps: Vec::new(),
            keys: HashMap::new(),
        }
    }

    fn intern(table: &mut Vec<Box<str>>, name: &str) -> Result<u16, DataError> {
        if let Some(i) = table.iter().position(|n| &**n == name) {
            return u16::try_from(i).map_err(|_| too_many());
        }
        table.push(name.into());
        u16::try_from(table.len() - 1).map_err(|_| too_many())
    }

    fn push_app(
        &mut self,
        id: i64,
        uuid: &str,
        name: &str,
        attributes: BTreeMap<&str, &str>,
        subs: Vec<SubEntry>,
    ) -> Result<u32, DataError> {
        let mut attrs = Vec::with_capacity(attributes.len());
        for (k, v) in attributes {
            attrs.push((
                Self::intern(&mut self.attribute_names, k)?,
                Box::<str>::from(v),
            ));
        }
        self.summary.subscriptions += count32(subs.len());
        self.apps.push(AppEntry {
            id,
            uuid: uuid.into(),
            name: name.into(),
            attributes: attrs.into_boxed_slice(),
            subs: subs.into_boxed_slice(),
        });
        self.summary.subscribed_applications = count32(self.apps.len());
        u32::try_from(self.apps.len() - 1).map_err(|_| too_many())
    }

    /// `Ok(false)` when the same (consumer key, key manager) already had another application or key type.
    fn add_key(
        &mut self,
        consumer_key: &str,
        key_manager: Option<&str>,
        key_type: KeyType,
        app: AppRef,
    ) -> Result<bool, DataError> {
        let key_manager = match key_manager.filter(|k| !k.is_empty()) {
            Some(km) => Some(Self::intern(&mut self.key_managers, km)?),
            None => None,
        };
        let entry = KeyEntry {
            key_manager,
            key_type,
            app,
        };
        match self.keys.entry((consumer_key.into(), key_manager)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Some(entry));
                Ok(true)
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                if *o.get() == Some(entry) {
                    return Ok(true);
                }
                if o.get().is_some() {
                    self.summary.conflicts += 1;
                }
                o.insert(None);
                Ok(false)
            }
        }
    }

    fn finish(self) -> Result<Snapshot, DataError> {
        let mut summary = self.summary;
        let mut keys: HashMap<Box<str>, Keys> = HashMap::with_capacity(self.keys.len());
        let mut kept = 0u32;
        for ((consumer_key, _), entry) in self.keys {
            let Some(entry) = entry else { continue };
            kept += 1;
            match keys.remove(&consumer_key) {
                None => {
                    keys.insert(consumer_key, Keys::One(entry));
                }
                Some(Keys::One(first)) => {
                    keys.insert(
                        consumer_key,
                        Keys::Many(vec![first, entry].into_boxed_slice()),
                    );
                }
                Some(Keys::Many(list)) => {
                    let mut list = list.into_vec();
                    list.push(entry);
                    keys.insert(consumer_key, Keys::Many(list.into_boxed_slice()));
                }
            }
        }
        summary.key_mappings = kept;
        Ok(Snapshot {
            source: self.source,
            summary,
            apis: self.apis,
            key_managers: self.key_managers,
            attribute_names: self.attribute_names,
            apps: self.apps,
            keys,
        })
    }
}

fn too_many() -> DataError {
    DataError::new(DataErrorKind::Invalid, "too many distinct names")
}

// ---------------------------------------------------------------------------------------------------------
// Building: from the static list of the configuration

/// The static list: who may call, written by hand in the plugin configuration instead of pulling APIM.
///
/// ```json
/// {"applications": [
///   {"name": "Acme TPP", "organisation": "0015800001041RHAAY",
///    "keys": [{"consumer_key": "9DkUa2lq", "key_type": "PRODUCTION"},
///             {"consumer_key": "x7Qa00", "key_type": "SANDBOX", "key_manager": "Resident Key Manager"}],
///    "subscriptions": [{"state": "UNBLOCKED"}]}
/// ]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticSubscriptions {
    pub applications: Vec<StaticApplication>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticApplication {
    /// Shown to the backend and in the access log.
    pub name: String,
    /// APIM application id; default: the position in the list, from 1.
    #[serde(default)]
    pub id: Option<i64>,
    /// APIM application UUID; default `static-<id>`.
    #[serde(default)]
    pub uuid: Option<String>,
    /// The organisation id the client certificate must carry (stored as the configured organisation
    /// attribute).
    #[serde(default)]
    pub organisation: Option<String>,
    /// Other attributes, all kept.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// At least one.
    pub keys: Vec<StaticKey>,
    /// Its subscriptions; none means not subscribed (refused 900908).
    #[serde(default)]
    pub subscriptions: Vec<StaticSubscription>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticKey {
    pub consumer_key: String,
    /// `PRODUCTION` or `SANDBOX`.
    pub key_type: KeyType,
    /// Only when the filter is configured to match key managers.
    #[serde(default)]
    pub key_manager: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticSubscription {
    /// One of the protected APIs; default: every protected API.
    #[serde(default)]
    pub api: Option<ProtectedApi>,
    /// `UNBLOCKED`, `BLOCKED`, `PROD_ONLY_BLOCKED`, `ON_HOLD`, `REJECTED` or `TIER_UPDATE_PENDING`.
    #[serde(deserialize_with = "known_state")]
    pub state: SubscriptionState,
}

fn known_state<'de, D: Deserializer<'de>>(d: D) -> Result<SubscriptionState, D::Error> {
    let text = String::deserialize(d)?;
    match SubscriptionState::parse(&text) {
        SubscriptionState::Unknown => Err(serde::de::Error::custom(format!(
            "unknown subscription state {text:?}: expected one of UNBLOCKED, BLOCKED, PROD_ONLY_BLOCKED, \
             ON_HOLD, REJECTED, TIER_UPDATE_PENDING"
        ))),
        state => Ok(state),
    }
}

impl Snapshot {
    /// The snapshot of a static list. Errors name the application by position (`applications[2]`).
    pub fn from_static(
        list: &StaticSubscriptions,
        options: &SnapshotOptions,
    ) -> Result<Snapshot, DataError> {
        options.check()?;
        let err = |msg: String| DataError::new(DataErrorKind::Static, msg);
        let mut acc = Accumulator::new(options, SnapshotSource::Static);
        let mut ids = HashSet::new();
        let mut uuids = HashSet::new();
        for (i, app) in list.applications.iter().enumerate() {
            let at = format!("applications[{i}]");
            if app.name.trim().is_empty() {
                return Err(err(format!("{at}.name is empty")));
            }
            let id = app
                .id
                .unwrap_or(i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1));
            let uuid = app.uuid.clone().unwrap_or_else(|| format!("static-{id}"));
            if !ids.insert(id) {
                return Err(err(format!("{at}: id {id} is used twice")));
            }
            if uuid.is_empty() || !uuids.insert(uuid.clone()) {
                return Err(err(format!("{at}: uuid {uuid:?} is empty or used twice")));
            }
            if app.keys.is_empty() {
                return Err(err(format!("{at}.keys is empty")));
            }
            let mut attributes: BTreeMap<&str, &str> = app
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if let Some(org) = &app.organisation {
                let Some(name) = options.organisation_attribute.as_deref() else {
                    return Err(err(format!(
                        "{at}.organisation is set but no organisation attribute is configured"
                    )));
                };
                attributes.insert(name, org.as_str());
            }
            let mut subs: Vec<SubEntry> = Vec::new();
            for (j, sub) in app.subscriptions.iter().enumerate() {
                let slots: Vec<u8> = match &sub.api {
                    None => (0..options.apis.len())
                        .filter_map(|s| u8::try_from(s).ok())
                        .collect(),
                    Some(api) => {
                        let slot = options
                            .apis
                            .iter()
                            .position(|p| p == api)
                            .and_then(|s| u8::try_from(s).ok())
                            .ok_or_else(|| {
                                err(format!(
                                    "{at}.subscriptions[{j}].api {api} is not a protected API"
                                ))
                            })?;
                        vec![slot]
                    }
                };
                for slot in slots {
                    if subs.iter().any(|s| s.api == slot) {
                        return Err(err(format!(
                            "{at}.subscriptions[{j}]: a second subscription to the same API"
                        )));
                    }
                    subs.push(SubEntry {
                        api: slot,
                        state: sub.state,
                        api_blocked: false,
                    });
                }
            }
            acc.summary.applications += 1;
            let app_ref = if subs.is_empty() {
                AppRef::Unsubscribed
            } else {
                AppRef::Index(acc.push_app(id, &uuid, &app.name, attributes, subs)?)
            };
            for (j, key) in app.keys.iter().enumerate() {
                if key.consumer_key.is_empty()
                    || !key.consumer_key.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(err(format!(
                        "{at}.keys[{j}].consumer_key must be non-empty visible ASCII"
                    )));
                }
                if !acc.add_key(
                    &key.consumer_key,
                    key.key_manager.as_deref(),
                    key.key_type,
                    app_ref,
                )? {
                    return Err(err(format!(
                        "{at}.keys[{j}]: consumer key {:?} is listed twice",
                        key.consumer_key
                    )));
                }
            }
        }
        acc.finish()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Shared-data bytes

impl Snapshot {
    /// The snapshot as bytes for proxy-wasm shared data (see [`codec`] for the frame). Deterministic for
    /// one snapshot up to the order of consumer keys.
    pub fn to_bytes(&self) -> Result<Vec<u8>, DataError> {
        let mut w = Writer::default();
        w.u8(match self.source {
            SnapshotSource::DataApi => 0,
            SnapshotSource::Static => 1,
        });
        let s = &self.summary;
        for n in [
            s.applications,
            s.subscribed_applications,
            s.subscriptions,
            s.key_mappings,
            s.skipped,
            s.conflicts,
        ] {
            w.varint(u64::from(n));
        }
        w.usize(self.apis.len());
        for slot in &self.apis {
            match &slot.selector {
                ProtectedApi::NameVersion { name, version } => {
                    w.u8(0);
                    w.str(name);
                    w.str(version);
                }
                ProtectedApi::Context(context) => {
                    w.u8(1);
                    w.str(context);
                }
            }
            w.u8(u8::from(slot.resolved));
        }
        for table in [&self.key_managers, &self.attribute_names] {
            w.usize(table.len());
            for name in table {
                w.str(name);
            }
        }
        w.usize(self.apps.len());
        for app in &self.apps {
            w.i64(app.id);
            w.str(&app.uuid);
            w.str(&app.name);
            w.usize(app.attributes.len());
            for (k, v) in app.attributes.iter() {
                w.varint(u64::from(*k));
                w.str(v);
            }
            w.usize(app.subs.len());
            for sub in app.subs.iter() {
                w.u8(sub.api);
                w.u8(sub.state.code());
                w.u8(u8::from(sub.api_blocked));
            }
        }
        w.usize(self.keys.len());
        for (consumer_key, keys) in &self.keys {
            w.str(consumer_key);
            let entries: &[KeyEntry] = match keys {
                Keys::One(e) => std::slice::from_ref(e),
                Keys::Many(list) => list,
            };
            w.usize(entries.len());
            for e in entries {
                w.varint(e.key_manager.map_or(0, |k| u64::from(k) + 1));
                w.u8(e.key_type.code());
                w.varint(match e.app {
                    AppRef::Missing => 0,
                    AppRef::Unsubscribed => 1,
                    AppRef::Index(i) => u64::from(i) + 2,
                });
            }
        }
        codec::frame(&w.buf)
    }

    /// Read bytes made by [`Snapshot::to_bytes`] of the same format version; anything else is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, DataError> {
        let body = codec::unframe(bytes)?;
        let mut r = Reader::new(body);
        let bad = DataError::bytes;
        let source = match r.u8()? {
            0 => SnapshotSource::DataApi,
            1 => SnapshotSource::Static,
            _ => return Err(bad("source")),
        };
        let mut n = [0u32; 6];
        for slot in n.iter_mut() {
            *slot = u32::try_from(r.varint()?).map_err(|_| bad("summary"))?;
        }
        let [applications, subscribed_applications, subscriptions, key_mappings, skipped, conflicts] =
            n;
        let summary = SnapshotSummary {
            applications,
            subscribed_applications,
            subscriptions,
            key_mappings,
            skipped,
            conflicts,
        };
        let api_count = r.count()?;
        if api_count == 0 || api_count > usize::from(u8::MAX) {
            return Err(bad("API count"));
        }
        let mut apis = Vec::with_capacity(api_count);
        for _ in 0..api_count {
            let selector = match r.u8()? {
                0 => ProtectedApi::name_version(r.str()?, r.str()?),
                1 => ProtectedApi::context(r.str()?),
                _ => return Err(bad("API selector")),
            };
            let resolved = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(bad("flag")),
            };
            apis.push(ApiSlot { selector, resolved });
        }
        let mut tables: [Vec<Box<str>>; 2] = [Vec::new(), Vec::new()];
        for table in tables.iter_mut() {
            let len = r.count()?;
            if len > usize::from(u16::MAX) {
                return Err(bad("table size"));
            }
            for _ in 0..len {
                table.push(r.str()?.into());
            }
        }
        let [key_managers, attribute_names] = tables;
        let app_count = r.count()?;
        let mut apps = Vec::with_capacity(app_count);
        for _ in 0..app_count {
            let id = r.i64()?;
            let uuid = r.str()?.into();
            let name = r.str()?.into();
            let attr_count = r.count()?;
            let mut attributes = Vec::with_capacity(attr_count);
            for _ in 0..attr_count {
                let k = u16::try_from(r.varint()?).map_err(|_| bad("attribute name"))?;
                if usize::from(k) >= attribute_names.len() {
                    return Err(bad("attribute name"));
                }
                attributes.push((k, r.str()?.into()));
            }
            let sub_count = r.count()?;
            if sub_count == 0 {
                return Err(bad("application without subscriptions"));
            }
            let mut subs = Vec::with_capacity(sub_count);
            for _ in 0..sub_count {
                let api = r.u8()?;
                if usize::from(api) >= apis.len() {
                    return Err(bad("API slot"));
                }
                let state = SubscriptionState::from_code(r.u8()?).ok_or_else(|| bad("state"))?;
                let api_blocked = match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(bad("flag")),
                };
                subs.push(SubEntry {
                    api,
                    state,
                    api_blocked,
                });
            }
            apps.push(AppEntry {
                id,
                uuid,
                name,
                attributes: attributes.into_boxed_slice(),
                subs: subs.into_boxed_slice(),
            });
        }
        let key_count = r.count()?;
        let mut keys = HashMap::with_capacity(key_count);
        for _ in 0..key_count {
            let consumer_key: Box<str> = r.str()?.into();
            let entry_count = r.count()?;
            if entry_count == 0 {
                return Err(bad("consumer key without mapping"));
            }
            let mut entries = Vec::with_capacity(entry_count);
            for _ in 0..entry_count {
                let key_manager = match r.varint()? {
                    0 => None,
                    k => {
                        let k = u16::try_from(k - 1).map_err(|_| bad("key manager"))?;
                        if usize::from(k) >= key_managers.len() {
                            return Err(bad("key manager"));
                        }
                        Some(k)
                    }
                };
                let key_type = KeyType::from_code(r.u8()?).ok_or_else(|| bad("key type"))?;
                let app = match r.varint()? {
                    0 => AppRef::Missing,
                    1 => AppRef::Unsubscribed,
                    i => {
                        let i = u32::try_from(i - 2).map_err(|_| bad("application index"))?;
                        if usize::try_from(i).map_or(true, |i| i >= apps.len()) {
                            return Err(bad("application index"));
                        }
                        AppRef::Index(i)
                    }
                };
                entries.push(KeyEntry {
                    key_manager,
                    key_type,
                    app,
                });
            }
            let keys_value = match <[KeyEntry; 1]>::try_from(entries) {
                Ok([one]) => Keys::One(one),
                Err(many) => Keys::Many(many.into_boxed_slice()),
            };
            if keys.insert(consumer_key, keys_value).is_some() {
                return Err(bad("consumer key twice"));
            }
        }
        if !r.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(Snapshot {
            source,
            summary,
            apis,
            key_managers,
            attribute_names,
            apps,
            keys,
        })
    }
}
