//! Profiles of an account ("Qui regarde ?"): a name, a colour, an optional 4-digit PIN hashed
//! like passwords. Watch progress and languages belong to a profile; a browser session
//! watches as the profile it selected (the account's first until then). A wrong PIN counts
//! against the login throttle's client and a per-profile key, so guessing 10,000 PINs takes
//! the same exponential delays as guessing passwords.

use std::net::IpAddr;

use serde::Deserialize;

use super::{Accounts, password};
use crate::store::StoreError;
use crate::store::accounts::SessionRow;
use crate::store::profiles::{DEFAULT_COLOUR, ProfileRow, ProfileUpdate, Removed};

/// Profiles per account: a household's worth (Netflix allows 5).
pub const MAX_PROFILES: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("a profile name has 1 to 32 characters")]
    InvalidName,
    #[error("a colour is '#' and 6 hexadecimal digits")]
    InvalidColour,
    #[error("an interface language is a BCP-47 tag such as `fr` or `en-GB`")]
    InvalidLanguage,
    #[error("a PIN is 4 digits")]
    InvalidPin,
    #[error("no such profile")]
    NotFound,
    #[error("an account keeps at least one profile")]
    Last,
    #[error("an account has at most {MAX_PROFILES} profiles")]
    TooMany,
    #[error("this profile has a PIN: select it first")]
    PinRequired,
    #[error("wrong PIN")]
    WrongPin,
    #[error("too many wrong PINs; retry in {0} s")]
    TooManyAttempts(u64),
    #[error("only a browser session selects a profile")]
    NoSession,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the session's new profile where every instance reads it (Redis) failed.
    #[error(transparent)]
    Account(#[from] Box<super::AccountError>),
    #[error("hashing the PIN failed")]
    Hash(#[source] password::PasswordError),
    #[error("the PIN task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// A new profile.
#[derive(Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[ts(export)]
pub struct NewProfile {
    /// 1 to 32 characters.
    pub name: String,
    /// `#rrggbb`; the accent red when left out.
    #[serde(default)]
    #[ts(optional)]
    pub colour: Option<String>,
    /// 4 digits, asked before the profile is selected.
    #[serde(default)]
    #[ts(optional)]
    pub pin: Option<String>,
}

/// A change to a profile; a field left out keeps its value.
#[derive(Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[ts(export)]
pub struct ProfileChange {
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub colour: Option<String>,
    /// 4 digits to set the PIN, `""` to remove it.
    #[serde(default)]
    #[ts(optional)]
    pub pin: Option<String>,
    /// The interface language (`fr`, `en`…), which then follows the profile to every device.
    #[serde(default)]
    #[ts(optional)]
    pub language: Option<String>,
}

// PINs are never printed.
impl std::fmt::Debug for NewProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewProfile")
            .field("name", &self.name)
            .field("colour", &self.colour)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ProfileChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileChange")
            .field("name", &self.name)
            .field("colour", &self.colour)
            .finish_non_exhaustive()
    }
}

fn name(input: &str) -> Result<String, ProfileError> {
    let name = input.trim();
    let ok = (1..=32).contains(&name.chars().count()) && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned()).ok_or(ProfileError::InvalidName)
}

fn colour(input: &str) -> Result<String, ProfileError> {
    let hex = input.strip_prefix('#').unwrap_or("");
    let ok = hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| input.to_ascii_lowercase())
        .ok_or(ProfileError::InvalidColour)
}

fn check_pin(pin: &str) -> Result<(), ProfileError> {
    if pin.len() == 4 && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ProfileError::InvalidPin)
    }
}

/// A PIN's Argon2id hash, made on the blocking pool (tens of milliseconds).
async fn hash_pin(pin: String) -> Result<String, ProfileError> {
    check_pin(&pin)?;
    tokio::task::spawn_blocking(move || password::hash(&pin))
        .await
        .map_err(ProfileError::Task)?
        .map_err(ProfileError::Hash)
}

async fn pin_matches(pin: String, stored: String) -> Result<bool, ProfileError> {
    let verified = tokio::task::spawn_blocking(move || password::verify(&pin, &stored))
        .await
        .map_err(ProfileError::Task)?;
    Ok(verified != password::Verified::No)
}

/// The throttle's key for a profile's PIN: not a user name (those have no ':').
fn pin_key(id: i64) -> String {
    format!("profile:{id}")
}

impl Accounts {
    /// The profiles of an account (`None`: the profile of a server without accounts).
    pub async fn profiles(&self, owner: Option<i64>) -> Result<Vec<ProfileRow>, ProfileError> {
        Ok(self.store.profiles_of(owner).await?)
    }

    /// The profile, if it belongs to `owner`.
    async fn owned(&self, owner: Option<i64>, id: i64) -> Result<ProfileRow, ProfileError> {
        match self.store.profile(id).await? {
            Some(p) if p.account_id == owner => Ok(p),
            _ => Err(ProfileError::NotFound),
        }
    }

    pub async fn add_profile(
        &self,
        owner: Option<i64>,
        new: NewProfile,
    ) -> Result<ProfileRow, ProfileError> {
        let name = name(&new.name)?;
        let colour = colour(new.colour.as_deref().unwrap_or(DEFAULT_COLOUR))?;
        let pin_hash = match new.pin {
            Some(pin) => Some(hash_pin(pin).await?),
            None => None,
        };
        let id = self
            .store
            .add_profile(owner, name, colour, pin_hash, self.now(), MAX_PROFILES)
            .await?
            .ok_or(ProfileError::TooMany)?;
        self.owned(owner, id).await
    }

    /// Renames, recolours, sets or removes the PIN. A profile with a PIN is changed only from
    /// a session that selected it (with its PIN), or by the server's token.
    pub async fn update_profile(
        &self,
        owner: Option<i64>,
        current: Option<i64>,
        id: i64,
        change: ProfileChange,
    ) -> Result<ProfileRow, ProfileError> {
        let profile = self.owned(owner, id).await?;
        if profile.pin_hash.is_some() && current.is_some_and(|c| c != id) {
            return Err(ProfileError::PinRequired);
        }
        let pin_hash = match change.pin {
            Some(pin) if pin.is_empty() => Some(None),
            Some(pin) => Some(Some(hash_pin(pin).await?)),
            None => None,
        };
        let update = ProfileUpdate {
            name: change.name.as_deref().map(name).transpose()?,
            colour: change.colour.as_deref().map(colour).transpose()?,
            pin_hash,
            language: change
                .language
                .as_deref()
                .map(|l| {
                    crate::store::languages::language_tag(l).ok_or(ProfileError::InvalidLanguage)
                })
                .transpose()?,
        };
        self.store.update_profile(id, update).await?;
        self.owned(owner, id).await
    }

    /// Deletes a profile and what it watched; never an account's last profile.
    pub async fn remove_profile(
        &self,
        owner: Option<i64>,
        current: Option<i64>,
        id: i64,
    ) -> Result<(), ProfileError> {
        let profile = self.owned(owner, id).await?;
        if profile.pin_hash.is_some() && current.is_some_and(|c| c != id) {
            return Err(ProfileError::PinRequired);
        }
        match self.store.remove_profile(id).await? {
            Removed::Yes => {}
            Removed::NotFound => return Err(ProfileError::NotFound),
            Removed::Last => return Err(ProfileError::Last),
        }
        // Sessions on it fall back to the account's first profile (the column is set NULL).
        if let Some(account) = owner {
            self.republish(account).await.map_err(Box::new)?;
        }
        Ok(())
    }

    /// Makes the session watch as profile `id`, checking its PIN (throttled like logins).
    pub async fn select_profile(
        &self,
        session: &SessionRow,
        id: i64,
        pin: Option<String>,
        client: IpAddr,
    ) -> Result<ProfileRow, ProfileError> {
        let profile = self.owned(Some(session.account_id), id).await?;
        if let Some(stored) = profile.pin_hash.clone() {
            let now = self.clock.unix();
            let key = pin_key(id);
            self.throttle
                .admit(&key, client, now)
                .map_err(ProfileError::TooManyAttempts)?;
            let given = pin.ok_or(ProfileError::PinRequired)?;
            if check_pin(&given).is_err() || !pin_matches(given, stored).await? {
                self.throttle.failed(&key, client, now);
                return Err(ProfileError::WrongPin);
            }
            self.throttle.succeeded(&key);
        }
        self.store.select_profile(session.id_hash, Some(id)).await?;
        self.republish(session.account_id).await.map_err(Box::new)?;
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_colours_and_pins_are_checked() {
        assert_eq!(name("  Léa ").unwrap(), "Léa");
        assert!(name("").is_err() && name(&"x".repeat(33)).is_err() && name("a\nb").is_err());
        assert_eq!(colour("#1E90FF").unwrap(), "#1e90ff");
        assert!(colour("red").is_err() && colour("#12345").is_err());
        assert!(check_pin("0420").is_ok());
        assert!(
            check_pin("420").is_err() && check_pin("04a0").is_err() && check_pin("٠١٢٣").is_err()
        );
    }
}
