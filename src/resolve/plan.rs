//! Whom to ask, decided before any I/O (stremio-core's `AggrRequest::plan`): the providers
//! in scope whose manifest accepts the request. Circuit breakers are consulted later, per
//! call, because their state changes while a fan-out runs.

use crate::cache::Scope;
use crate::models::MediaRequest;
use crate::providers::ProviderManifest;

/// The positions, in `manifests`' order, of the providers to ask for `request`.
pub fn plan<'a>(
    manifests: impl IntoIterator<Item = &'a ProviderManifest>,
    scope: &Scope,
    request: &MediaRequest,
) -> Vec<usize> {
    manifests
        .into_iter()
        .enumerate()
        .filter(|(_, m)| match scope {
            Scope::All => true,
            Scope::One(id) => m.id == *id,
        })
        .filter(|(_, m)| m.supports(request))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::MediaType;

    const BOTH: &[MediaType] = &[MediaType::Movie, MediaType::Tv];
    const FILMS: &[MediaType] = &[MediaType::Movie];

    fn manifests() -> [ProviderManifest; 3] {
        [
            ProviderManifest {
                id: "consumet",
                media_types: BOTH,
            },
            ProviderManifest {
                id: "films-only",
                media_types: FILMS,
            },
            ProviderManifest {
                id: "jellyfin",
                media_types: BOTH,
            },
        ]
    }

    #[test]
    fn every_provider_that_takes_the_media_type_is_asked_in_order() {
        let m = manifests();
        assert_eq!(plan(&m, &Scope::All, &MediaRequest::movie(603)), [0, 1, 2]);
        assert_eq!(
            plan(&m, &Scope::All, &MediaRequest::episode(1396, 1, 2)),
            [0, 2],
            "a films-only provider is not asked for an episode"
        );
    }

    #[test]
    fn a_scoped_request_asks_only_its_provider_if_it_takes_the_request() {
        let m = manifests();
        assert_eq!(
            plan(&m, &Scope::One("jellyfin"), &MediaRequest::movie(603)),
            [2]
        );
        assert!(
            plan(
                &m,
                &Scope::One("films-only"),
                &MediaRequest::episode(1, 1, 1)
            )
            .is_empty()
        );
        assert!(plan(&m, &Scope::One("absent"), &MediaRequest::movie(1)).is_empty());
    }
}
