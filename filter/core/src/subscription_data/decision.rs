//! The decision: APIM's `KeyValidator.validate` over a [`Snapshot`] (table in the module docs of
//! [`super`]).

use super::model::{KeyType, ProtectedApi, SubscriptionState};
use super::snapshot::{AppEntry, AppRef, KeyEntry, Keys, Snapshot, SubEntry};
use crate::errors::{ErrorKind, Refusal};

/// The application allowed through, for the backend headers and the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribedApplication {
    /// APIM application id (`Application.id`).
    pub application_id: i64,
    /// APIM application UUID.
    pub application_uuid: String,
    pub name: String,
    /// From the key mapping of the token's consumer key.
    pub key_type: KeyType,
    /// The state of the subscription that allowed the call (`UNBLOCKED`, `TIER_UPDATE_PENDING`, or
    /// `PROD_ONLY_BLOCKED` with a sandbox key).
    pub state: SubscriptionState,
    /// The protected API the subscription is to.
    pub api: ProtectedApi,
    /// The kept attributes (those named in the options), sorted by name.
    pub attributes: Vec<(String, String)>,
}

impl SubscribedApplication {
    /// A kept application attribute, e.g. the organisation id for the certificate check.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// 503 before the first good load: nobody passes on data the filter does not have.
pub fn data_unavailable() -> Refusal {
    Refusal::new(
        ErrorKind::SubscriptionDataUnavailable,
        "Subscription data is not available yet",
    )
}

/// [`Snapshot::admit`], or [`data_unavailable`] when there is no snapshot yet.
pub fn admit<'s>(
    snapshot: Option<&'s Snapshot>,
    consumer_key: &str,
    key_manager: Option<&str>,
    api: Option<&ProtectedApi>,
) -> Result<Admission<'s>, Refusal> {
    match snapshot {
        Some(snapshot) => snapshot.admit(consumer_key, key_manager, api),
        None => Err(data_unavailable()),
    }
}

/// The application allowed through, read in place from the snapshot (no copies on the request path).
#[derive(Debug, Clone, Copy)]
pub struct Admission<'s> {
    snapshot: &'s Snapshot,
    app: &'s AppEntry,
    sub: SubEntry,
    /// From the key mapping of the token's consumer key.
    pub key_type: KeyType,
}

impl<'s> Admission<'s> {
    /// APIM application id (`Application.id`).
    pub fn application_id(&self) -> i64 {
        self.app.id
    }

    /// APIM application name.
    pub fn name(&self) -> &'s str {
        &self.app.name
    }

    /// A kept application attribute, e.g. the organisation id for the certificate check.
    pub fn attribute(&self, name: &str) -> Option<&'s str> {
        let snapshot = self.snapshot;
        self.app
            .attributes
            .iter()
            .find(|(k, _)| snapshot.attribute_name(*k) == Some(name))
            .map(|(_, v)| &**v)
    }

    /// The same decision as an owned value.
    pub fn to_application(&self) -> Result<SubscribedApplication, Refusal> {
        let api = self
            .snapshot
            .apis
            .get(usize::from(self.sub.api))
            .map(|s| s.selector.clone())
            .ok_or_else(not_subscribed)?;
        Ok(SubscribedApplication {
            application_id: self.app.id,
            application_uuid: self.app.uuid.to_string(),
            name: self.app.name.to_string(),
            key_type: self.key_type,
            state: self.sub.state,
            api,
            attributes: self
                .app
                .attributes
                .iter()
                .filter_map(|(k, v)| {
                    self.snapshot
                        .attribute_name(*k)
                        .map(|k| (k.to_string(), v.to_string()))
                })
                .collect(),
        })
    }
}

/// [`Snapshot::decide`], or [`data_unavailable`] when there is no snapshot yet.
pub fn decide(
    snapshot: Option<&Snapshot>,
    consumer_key: &str,
    key_manager: Option<&str>,
    api: Option<&ProtectedApi>,
) -> Result<SubscribedApplication, Refusal> {
    match snapshot {
        Some(snapshot) => snapshot.decide(consumer_key, key_manager, api),
        None => Err(data_unavailable()),
    }
}

fn missing(reason: &'static str, message: &str) -> Refusal {
    Refusal::new(
        ErrorKind::SubscriptionMissing,
        format!("{message} (WSO2 900908)"),
    )
    .because(reason)
}

fn not_subscribed() -> Refusal {
    missing(
        "subscription_missing.no_subscription",
        "The application is not subscribed to this API",
    )
}

/// APIM's order: BLOCKED, ON_HOLD/REJECTED, PROD_ONLY_BLOCKED with a non-sandbox key, API lifecycle BLOCKED.
fn verdict(sub: &SubEntry, key_type: KeyType) -> Result<(), Refusal> {
    let blocked = |reason, message: &str| {
        Err(Refusal::new(
            ErrorKind::SubscriptionBlocked,
            format!("{message} (WSO2 900907)"),
        )
        .because(reason))
    };
    let inactive = |reason, message: &str| {
        Err(Refusal::new(
            ErrorKind::SubscriptionInactive,
            format!("{message} (WSO2 900909)"),
        )
        .because(reason))
    };
    match sub.state {
        SubscriptionState::Blocked => {
            return blocked(
                "subscription_blocked.blocked",
                "The application's subscription to this API is blocked",
            )
        }
        SubscriptionState::OnHold => {
            return inactive(
                "subscription_inactive.on_hold",
                "The application's subscription to this API is on hold",
            )
        }
        SubscriptionState::Rejected => {
            return inactive(
                "subscription_inactive.rejected",
                "The application's subscription to this API was rejected",
            )
        }
        SubscriptionState::ProdOnlyBlocked if key_type != KeyType::Sandbox => {
            return blocked(
                "subscription_blocked.production_only",
                "The application's subscription to this API is blocked for production keys",
            )
        }
        SubscriptionState::Unknown => {
            return inactive(
                "subscription_inactive.unknown_state",
                "The application's subscription to this API is not active",
            )
        }
        SubscriptionState::Unblocked
        | SubscriptionState::TierUpdatePending
        | SubscriptionState::ProdOnlyBlocked => {}
    }
    if sub.api_blocked {
        return blocked("subscription_blocked.api_blocked", "This API is blocked");
    }
    Ok(())
}

impl Snapshot {
    fn key_entry(
        &self,
        consumer_key: &str,
        key_manager: Option<&str>,
    ) -> Result<KeyEntry, Refusal> {
        let no_mapping = || {
            missing(
                "subscription_missing.no_key_mapping",
                "No application has the access token's client id",
            )
        };
        let keys = self.keys.get(consumer_key).ok_or_else(no_mapping)?;
        let entries: &[KeyEntry] = match keys {
            Keys::One(entry) => std::slice::from_ref(entry),
            Keys::Many(list) => list,
        };
        match key_manager {
            Some(name) => {
                let wanted = self.key_manager_index(name).ok_or_else(no_mapping)?;
                entries
                    .iter()
                    .find(|e| e.key_manager == Some(wanted))
                    .copied()
                    .ok_or_else(no_mapping)
            }
            None => match entries {
                [one] => Ok(*one),
                [first, rest @ ..]
                    if rest
                        .iter()
                        .all(|e| e.app == first.app && e.key_type == first.key_type) =>
                {
                    Ok(*first)
                }
                _ => Err(missing(
                    "subscription_missing.key_mapping_ambiguous",
                    "The access token's client id is registered with several key managers",
                )),
            },
        }
    }

    /// May the application with this consumer key (the verified token's `azp` / `client_id`) call `api`?
    ///
    /// `key_manager`: the APIM key manager the token's issuer stands for, when the configuration names one;
    /// `None` matches a consumer key under any key manager (refused if they disagree). `api`: one of the
    /// protected APIs of the options, or `None` for "any of them" (the first passing subscription wins;
    /// otherwise the first refusal).
    pub fn decide(
        &self,
        consumer_key: &str,
        key_manager: Option<&str>,
        api: Option<&ProtectedApi>,
    ) -> Result<SubscribedApplication, Refusal> {
        self.admit(consumer_key, key_manager, api)?.to_application()
    }

    /// [`Snapshot::decide`] without copying the application out of the snapshot.
    pub fn admit(
        &self,
        consumer_key: &str,
        key_manager: Option<&str>,
        api: Option<&ProtectedApi>,
    ) -> Result<Admission<'_>, Refusal> {
        let entry = self.key_entry(consumer_key, key_manager)?;
        let app = match entry.app {
            AppRef::Missing => {
                return Err(missing(
                    "subscription_missing.no_application",
                    "The access token's client id belongs to no application",
                ))
            }
            AppRef::Unsubscribed => return Err(not_subscribed()),
            AppRef::Index(i) => usize::try_from(i)
                .ok()
                .and_then(|i| self.apps.get(i))
                .ok_or_else(not_subscribed)?,
        };
        let slot = match api {
            Some(api) => Some(self.api_slot(api).ok_or_else(not_subscribed)?),
            None => None,
        };
        let mut first_refusal = None;
        for sub in app
            .subs
            .iter()
            .filter(|s| slot.is_none_or(|slot| s.api == slot))
        {
            match verdict(sub, entry.key_type) {
                Ok(()) => {
                    return Ok(Admission {
                        snapshot: self,
                        app,
                        sub: *sub,
                        key_type: entry.key_type,
                    })
                }
                Err(refusal) => {
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        Err(first_refusal.unwrap_or_else(not_subscribed))
    }
}
