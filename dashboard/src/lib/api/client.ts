// The only module that talks to the Sokoul API. Same origin as the dashboard (the Rust server
// serves both); `npm run dev` forwards /api through Vite's proxy.
import type {
	ApiErrorBody,
	LibraryItem,
	LibraryItemDetail,
	LibraryItemsResponse,
	MediaType,
	Metadata,
	OpenApiDocument,
	ProgressEntry,
	ProgressListResponse,
	ProgressUpdate,
	ResolveResponse,
	SavedProgress,
	SearchResults,
	StreamSource,
	SubtitleTrack,
	TmdbSeason
} from '$lib/api/types';
import type { AccountChange } from '$lib/api/generated/AccountChange';
import type { AccountInfo } from '$lib/api/generated/AccountInfo';
import type { AccountList } from '$lib/api/generated/AccountList';
import type { AuthState } from '$lib/api/generated/AuthState';
import type { Credentials as Credentials_ } from '$lib/api/generated/Credentials';
import type { LanguagePreferences } from '$lib/api/generated/LanguagePreferences';
import type { CreatedToken } from '$lib/api/generated/CreatedToken';
import type { Me } from '$lib/api/generated/Me';
import type { NewProfile } from '$lib/api/generated/NewProfile';
import type { ProfileChange } from '$lib/api/generated/ProfileChange';
import type { ProfileInfo } from '$lib/api/generated/ProfileInfo';
import type { ProfileList } from '$lib/api/generated/ProfileList';
import type { NewAccountRequest } from '$lib/api/generated/NewAccountRequest';
import type { SessionInfo } from '$lib/api/generated/SessionInfo';
import type { SessionList } from '$lib/api/generated/SessionList';
import type { SeriesLanguageChoice } from '$lib/api/generated/SeriesLanguageChoice';
import type { SeriesLanguageUpdate } from '$lib/api/generated/SeriesLanguageUpdate';
import type { TokenInfo } from '$lib/api/generated/TokenInfo';
import type { TokenList } from '$lib/api/generated/TokenList';

/** What identifies something playable: a movie, or one episode of a series. */
export interface MediaKey {
	media_type: MediaType;
	tmdb_id: number;
	season?: number | null;
	episode?: number | null;
}

export interface RequestOptions {
	/** SvelteKit's `fetch` inside `load`, or a test double. */
	fetch?: typeof fetch;
	signal?: AbortSignal;
}

/**
 * Where earlier versions kept SOKOUL_API_TOKEN. Nothing is stored there any more (the session is
 * an HttpOnly cookie no script can read); a token left from before is removed on load.
 */
export const LEGACY_TOKEN_KEY = 'sokoul.token';

/** An API failure: the server's `{error:{code,message}}`, or a synthetic code for transport errors. */
export class ApiError extends Error {
	readonly status: number;
	readonly code: string;

	constructor(status: number, code: string, message: string) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
	}

	get isNotFound(): boolean {
		return this.status === 404;
	}
}

/** Removes a token an earlier version left in localStorage: no credential stays there. */
export function forgetLegacyToken(): void {
	try {
		globalThis.localStorage?.removeItem(LEGACY_TOKEN_KEY);
	} catch {
		// Storage refused: nothing can have been kept there either.
	}
}

// A 401 from the API means this browser has no live session (never logged in, logged out,
// expired, revoked). Listeners (the layout, which then shows the login form) hear of it. The
// flag is sticky because the first 401 usually comes from a page's `load`, before any component
// has subscribed.
let sawUnauthorized = false;
const unauthorizedListeners = new Set<() => void>();

function reportUnauthorized(): void {
	sawUnauthorized = true;
	for (const listener of unauthorizedListeners) listener();
}

/** Calls `listener` on every 401 (at once if one was already seen). Returns the unsubscribe. */
export function onUnauthorized(listener: () => void): () => void {
	unauthorizedListeners.add(listener);
	if (sawUnauthorized) listener();
	return () => unauthorizedListeners.delete(listener);
}

/** `?season=S&episode=E` for an episode, nothing for a movie (the server rejects them there). */
export function mediaQuery(key: MediaKey): string {
	if (key.media_type !== 'tv' || key.season == null || key.episode == null) return '';
	return `?season=${encodeURIComponent(key.season)}&episode=${encodeURIComponent(key.episode)}`;
}

function mediaPath(key: MediaKey): string {
	return `${encodeURIComponent(key.media_type)}/${encodeURIComponent(key.tmdb_id)}`;
}

async function errorFrom(response: Response): Promise<ApiError> {
	let body: unknown = null;
	try {
		body = await response.json();
	} catch {
		// Not JSON (a proxy in front of us, or an HTML page): fall through to a generic error.
	}
	const error = (body as Partial<ApiErrorBody> | null)?.error;
	if (error && typeof error.code === 'string') {
		return new ApiError(response.status, error.code, error.message ?? error.code);
	}
	return new ApiError(response.status, `http_${response.status}`, `HTTP ${response.status}`);
}

/**
 * What a request carries: our session cookie (`session`, a call to our API; a 401 shows the login
 * form), the cookie but a 401 that is an answer (`attempt`: a login, the auth state), or nothing
 * (`none`: a third-party host must never see our cookie or a token).
 */
type Credentials = 'session' | 'attempt' | 'none';

export const ACCEPT_JSON = { Accept: 'application/json' };

/**
 * The one request path: every call goes through here, so a transport failure, a 401 and an error
 * body mean the same thing everywhere. Resolves with an ok response; throws an ApiError otherwise
 * (the caller's abort is rethrown as is).
 */
async function request(
	url: string,
	init: RequestInit,
	options: RequestOptions,
	credentials: Credentials = 'session'
): Promise<Response> {
	const doFetch = options.fetch ?? globalThis.fetch;
	let response: Response;
	try {
		response = await doFetch(url, {
			...init,
			// The HttpOnly session cookie goes to our own origin only, never to a third-party host.
			credentials: credentials === 'none' ? 'omit' : 'same-origin',
			signal: options.signal,
			headers: { ...init.headers }
		});
	} catch (cause) {
		// An abort is the caller's decision, not a failure to report.
		if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
		throw new ApiError(0, 'network_error', cause instanceof Error ? cause.message : String(cause));
	}
	if (response.status === 401 && credentials === 'session') reportUnauthorized();
	if (!response.ok) throw await errorFrom(response);
	return response;
}

async function getJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
	const response = await request(path, { method: 'GET', headers: ACCEPT_JSON }, options);
	return (await response.json()) as T;
}

// ---- Streams ----

/** Every enabled provider, concurrently. Status 200 even when nothing was found. */
/**
 * Resolves a title. `fresh` asks the providers again, past the server's cache ("Réessayer"
 * after a failure); the server honours it at most every few seconds per client.
 */
export function resolveStreams(
	key: MediaKey,
	options?: RequestOptions & ResolveOptions
): Promise<ResolveResponse> {
	return getJson(resolveUrl(key, options), options);
}

export interface ResolveOptions {
	/** Past the server's cache ("Réessayer"). */
	fresh?: boolean;
	/** What this browser decodes: the server starts packaging the first source for it at once. */
	profile?: string;
}

/** The resolve URL of `key` (also what the early resolve of `early-resolve.ts` asks). */
export function resolveUrl(key: MediaKey, options?: ResolveOptions): string {
	const params = new URLSearchParams(mediaQuery(key));
	if (options?.fresh) params.set('fresh', '1');
	if (options?.profile) params.set('profile', options.profile);
	const query = params.size > 0 ? `?${params}` : '';
	return `/api/streaming/resolve/${mediaPath(key)}${query}`;
}

/**
 * Tells the server a source does not play, so that it stops offering it to everyone for a
 * while. Best effort: a failed report changes nothing for this viewer, so errors are dropped.
 */
export async function reportSource(
	proxyUrl: string,
	stage: 'manifest' | 'segment' | 'decode' | 'timeout',
	code: string,
	options: RequestOptions = {}
): Promise<void> {
	try {
		await request(
			'/api/streaming/report',
			{
				method: 'POST',
				headers: { ...ACCEPT_JSON, 'Content-Type': 'application/json' },
				body: JSON.stringify({ proxy_url: proxyUrl, stage, code: code.slice(0, 64) })
			},
			options
		);
	} catch {
		// Best effort (see above).
	}
}

/**
 * The URL the browser should load: the signed proxy URL when the server gave one (upstream headers,
 * credentials or CORS make the direct URL unusable), otherwise the source's own URL.
 */
export function getProxyUrl(source: Pick<StreamSource | SubtitleTrack, 'url' | 'proxy_url'>): string {
	return source.proxy_url || source.url;
}

/** A subtitle file's text (WebVTT or SRT), through the proxy when there is one. */
export async function fetchSubtitleText(
	track: SubtitleTrack,
	options: RequestOptions = {}
): Promise<string> {
	const url = getProxyUrl(track);
	// Never send our bearer token to a third-party subtitle host.
	const sameOrigin = url.startsWith('/') && !url.startsWith('//');
	const response = await request(url, {}, options, sameOrigin ? 'session' : 'none');
	return response.text();
}

/**
 * The subtitle tracks embedded in a remote file the playback engine plays (`master` is its
 * source's `proxy_url`, `/api/playback/r/<sealed>/master.m3u8`), in the resolve answer's shape.
 * The resolve does not probe remote files; the server has once their master playlist is loaded.
 */
export async function getEngineSubtitles(master: string, options?: RequestOptions): Promise<SubtitleTrack[]> {
	const base = master.replace(/\/master\.m3u8(?:\?.*)?$/, '');
	return (await getJson<{ subtitles: SubtitleTrack[] }>(`${base}/subtitles`, options)).subtitles;
}

/** The ASS/SSA text of a styled track (`ass_url`: a library file's, on our own origin). */
export async function fetchStyledSubtitle(track: SubtitleTrack, options: RequestOptions = {}): Promise<string> {
	if (!track.ass_url) throw new Error('this subtitle track has no ASS version');
	return fetchSubtitleText({ ...track, url: track.ass_url, proxy_url: undefined }, options);
}

// ---- Library ----

export async function getLibraryItems(options?: RequestOptions): Promise<LibraryItem[]> {
	return (await getJson<LibraryItemsResponse>('/api/library/items', options)).items;
}

/** Throws an ApiError with status 404 when the title is not in the library. */
export function getLibraryItem(
	media_type: MediaType,
	tmdb_id: number,
	options?: RequestOptions
): Promise<LibraryItemDetail> {
	return getJson(`/api/library/items/${mediaPath({ media_type, tmdb_id })}`, options);
}

// ---- TMDB metadata ----

/** TMDB-backed reads take the interface's language (`fr`, `en`); left out, TMDB's default. */
export interface MetadataOptions extends RequestOptions {
	language?: string;
}

function withLanguage(path: string, language: string | undefined): string {
	if (!language) return path;
	return `${path}${path.includes('?') ? '&' : '?'}language=${encodeURIComponent(language)}`;
}

/**
 * Title, overview, poster… from TMDB, or null when the server has no TMDB key or TMDB does not
 * know the title: the pages then use the library's own metadata.
 */
export async function getMetadata(
	media_type: MediaType,
	tmdb_id: number,
	options: MetadataOptions = {}
): Promise<Metadata | null> {
	try {
		return await getJson<Metadata>(withLanguage(`/api/metadata/${mediaPath({ media_type, tmdb_id })}`, options.language), options);
	} catch (cause) {
		if (cause instanceof ApiError && cause.isNotFound) return null;
		throw cause;
	}
}

/** One season's episodes from TMDB (synopses, air dates, stills); null as for `getMetadata`. */
export async function getSeasonMetadata(
	tmdb_id: number,
	season: number,
	options: MetadataOptions = {}
): Promise<TmdbSeason | null> {
	const path = `/api/metadata/tv/${encodeURIComponent(tmdb_id)}/season/${encodeURIComponent(season)}`;
	try {
		return await getJson<TmdbSeason>(withLanguage(path, options.language), options);
	} catch (cause) {
		if (cause instanceof ApiError && cause.isNotFound) return null;
		throw cause;
	}
}

// ---- Search ----

/** The header's search: library titles and, with a TMDB key, TMDB's films and series. */
export function search(query: string, options: MetadataOptions = {}): Promise<SearchResults> {
	return getJson(withLanguage(`/api/search?q=${encodeURIComponent(query)}`, options.language), options);
}

// ---- API documentation ----

/** The OpenAPI document of the server, generated from its code (needs the token like all /api). */
export function getOpenApiDocument(options?: RequestOptions): Promise<OpenApiDocument> {
	return getJson('/api/openapi.json', options);
}

// ---- Watch progress ----

/** Most recent first. */
export async function getProgressList(options?: RequestOptions): Promise<ProgressEntry[]> {
	return (await getJson<ProgressListResponse>('/api/progress', options)).items;
}

/** Every saved position of one title (all of a series' episodes), most recent first. */
export async function getTitleProgress(
	media_type: MediaType,
	tmdb_id: number,
	options?: RequestOptions
): Promise<ProgressEntry[]> {
	const query = `?media_type=${media_type}&tmdb_id=${tmdb_id}`;
	return (await getJson<ProgressListResponse>(`/api/progress${query}`, options)).items;
}

/** The saved position, or null when nothing was saved yet (the server answers 404). */
/** The saved position's URL of `key` (also asked by the early requests of `early-resolve.ts`). */
export function progressUrl(key: MediaKey): string {
	return `/api/progress/${mediaPath(key)}${mediaQuery(key)}`;
}

export async function getProgress(
	key: MediaKey,
	options?: RequestOptions
): Promise<SavedProgress | null> {
	try {
		return await getJson<SavedProgress>(progressUrl(key), options);
	} catch (error) {
		if (error instanceof ApiError && error.isNotFound) return null;
		throw error;
	}
}

/**
 * Saves the position. `keepalive` lets the request outlive the page (pagehide, tab close);
 * `sendBeacon` is not used because it can only POST.
 */
/** Forgets a saved position; one already gone (404 `no_progress`) is not an error. */
export async function deleteProgress(key: MediaKey, options: RequestOptions = {}): Promise<void> {
	try {
		await request(`/api/progress/${mediaPath(key)}${mediaQuery(key)}`, { method: 'DELETE', headers: ACCEPT_JSON }, options);
	} catch (error) {
		if (error instanceof ApiError && error.isNotFound) return;
		throw error;
	}
}

export async function saveProgress(
	key: MediaKey,
	update: ProgressUpdate,
	options: RequestOptions & { keepalive?: boolean } = {}
): Promise<void> {
	await request(
		`/api/progress/${mediaPath(key)}${mediaQuery(key)}`,
		{
			method: 'PUT',
			keepalive: options.keepalive ?? false,
			headers: { ...ACCEPT_JSON, 'Content-Type': 'application/json' },
			body: JSON.stringify({ position: update.position, duration: update.duration })
		},
		options
	);
}

// ---- The viewer's languages ----

export function getLanguagePreferences(options?: RequestOptions): Promise<LanguagePreferences> {
	return getJson('/api/preferences/languages', options);
}

/** Saves the preferences; resolves with what the server kept (tags normalised). */
export async function saveLanguagePreferences(
	prefs: LanguagePreferences,
	options: RequestOptions = {}
): Promise<LanguagePreferences> {
	const response = await request(
		'/api/preferences/languages',
		{ method: 'PUT', headers: { ...ACCEPT_JSON, 'Content-Type': 'application/json' }, body: JSON.stringify(prefs) },
		options
	);
	return (await response.json()) as LanguagePreferences;
}

/** The series' last audio/subtitle choice, or null when nothing was picked yet (404). */
export async function getSeriesLanguages(
	tmdbId: number,
	options?: RequestOptions
): Promise<SeriesLanguageChoice | null> {
	try {
		return await getJson<SeriesLanguageChoice>(`/api/preferences/series/${tmdbId}`, options);
	} catch (error) {
		if (error instanceof ApiError && error.isNotFound) return null;
		throw error;
	}
}

export async function saveSeriesLanguages(
	tmdbId: number,
	update: SeriesLanguageUpdate,
	options: RequestOptions = {}
): Promise<void> {
	await request(
		`/api/preferences/series/${tmdbId}`,
		{ method: 'PUT', headers: { ...ACCEPT_JSON, 'Content-Type': 'application/json' }, body: JSON.stringify(update) },
		options
	);
}

// ---- Accounts ----

/** Whether the server has an account yet, and who this browser is logged in as. */
export async function getAuthState(options: RequestOptions = {}): Promise<AuthState> {
	const response = await request('/api/auth/state', { method: 'GET', headers: ACCEPT_JSON }, options, 'attempt');
	return (await response.json()) as AuthState;
}

function postCredentials(path: string, body: Credentials_, token: string | null, options: RequestOptions) {
	return request(
		path,
		{
			method: 'POST',
			headers: {
				'Content-Type': 'application/json',
				...ACCEPT_JSON,
				// Only the first-run page of a server with SOKOUL_API_TOKEN sends it, once; it is not kept.
				...(token ? { Authorization: `Bearer ${token}` } : {})
			},
			body: JSON.stringify(body)
		},
		options,
		'attempt'
	);
}

/** Logs in: the server sets the HttpOnly session cookie. Throws ApiError 401 `invalid_credentials`, 429 `too_many_attempts`. */
export async function login(username: string, password: string, options: RequestOptions = {}): Promise<Me> {
	const response = await postCredentials('/api/auth/login', { username, password }, null, options);
	sawUnauthorized = false;
	return (await response.json()) as Me;
}

/** Creates the first admin (first run) and logs it in. */
export async function setupAdmin(
	username: string,
	password: string,
	token: string | null,
	options: RequestOptions = {}
): Promise<Me> {
	const response = await postCredentials('/api/auth/setup', { username, password }, token, options);
	sawUnauthorized = false;
	return (await response.json()) as Me;
}

/** Ends every session of this account, this one included ("Se déconnecter partout"). */
export async function logoutEverywhere(options: RequestOptions = {}): Promise<void> {
	await request('/api/auth/sessions', { method: 'DELETE', headers: ACCEPT_JSON }, options, 'attempt');
}

/** Ends this browser's session; the server clears the cookie. */
export async function logout(options: RequestOptions = {}): Promise<void> {
	await request('/api/auth/logout', { method: 'POST' }, options, 'attempt');
}

/** This account's open sessions, most recently used first; `current` is this browser's. */
export async function getSessions(options?: RequestOptions): Promise<SessionInfo[]> {
	return (await getJson<SessionList>('/api/auth/sessions', options)).items;
}

// ---- The household's accounts (admins only: members get 403 `admin_only`) ----

export async function getAccounts(options?: RequestOptions): Promise<AccountInfo[]> {
	return (await getJson<AccountList>('/api/auth/users', options)).items;
}

/** Throws ApiError 409 `username_taken`, 400 `invalid_username` / `invalid_password`. */
export async function createAccount(account: NewAccountRequest, options: RequestOptions = {}): Promise<AccountInfo> {
	return (await (await request('/api/auth/users', sendJson('POST', account), options)).json()) as AccountInfo;
}

/** Role, disabled, or a new password (the last two end the account's sessions). 409 `last_admin`. */
export async function updateAccount(username: string, change: AccountChange, options: RequestOptions = {}): Promise<AccountInfo> {
	const path = `/api/auth/users/${encodeURIComponent(username)}`;
	return (await (await request(path, sendJson('PUT', change), options)).json()) as AccountInfo;
}

/** Deletes the account, its sessions, profiles and tokens. 409 `last_admin`. */
export async function deleteAccount(username: string, options: RequestOptions = {}): Promise<void> {
	await request(`/api/auth/users/${encodeURIComponent(username)}`, { method: 'DELETE', headers: ACCEPT_JSON }, options);
}

// ---- Profiles ----

function sendJson(method: string, body: unknown): RequestInit {
	return { method, headers: { ...ACCEPT_JSON, 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

/** The account's profiles, oldest first; `current` marks the one this session watches as. */
export async function getProfiles(options?: RequestOptions): Promise<ProfileInfo[]> {
	return (await getJson<ProfileList>('/api/profiles', options)).items;
}

export async function createProfile(profile: NewProfile, options: RequestOptions = {}): Promise<ProfileInfo> {
	return (await (await request('/api/profiles', sendJson('POST', profile), options)).json()) as ProfileInfo;
}

export async function updateProfile(id: number, change: ProfileChange, options: RequestOptions = {}): Promise<ProfileInfo> {
	return (await (await request(`/api/profiles/${id}`, sendJson('PATCH', change), options)).json()) as ProfileInfo;
}

export async function deleteProfile(id: number, options: RequestOptions = {}): Promise<void> {
	await request(`/api/profiles/${id}`, { method: 'DELETE', headers: ACCEPT_JSON }, options);
}

/**
 * This session watches as profile `id` from now on. Throws ApiError 403 `pin_required` or
 * `wrong_pin`, 429 `too_many_attempts`.
 */
export async function selectProfile(id: number, pin: string | null, options: RequestOptions = {}): Promise<ProfileInfo> {
	const body = pin ? { pin } : {};
	return (await (await request(`/api/profiles/${id}/select`, sendJson('POST', body), options)).json()) as ProfileInfo;
}

// ---- Personal API tokens ----

export async function getTokens(options?: RequestOptions): Promise<TokenInfo[]> {
	return (await getJson<TokenList>('/api/tokens', options)).items;
}

/** A new token: its `token` is in this answer only, never again. */
export async function createToken(name: string, options: RequestOptions = {}): Promise<CreatedToken> {
	return (await (await request('/api/tokens', sendJson('POST', { name }), options)).json()) as CreatedToken;
}

export async function deleteToken(id: number, options: RequestOptions = {}): Promise<void> {
	await request(`/api/tokens/${id}`, { method: 'DELETE', headers: ACCEPT_JSON }, options);
}
