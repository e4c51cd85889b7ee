// The JSON shapes of the Sokoul HTTP API (docs: contract.md and the library/progress routes).
// Keep every API type in this one file, with the server's snake_case field names: it is meant to
// be replaced wholesale by types generated from the Rust structs (ts-rs). Import from `$lib/api/types`.

export type MediaType = 'movie' | 'tv';

/** `{"error":{"code","message"}}`: the body of every non-2xx API response. */
export interface ApiErrorBody {
	error: { code: string; message: string };
}

// ---- Resolve: GET /api/streaming/resolve/{media_type}/{tmdb_id} and /api/streaming/{provider}/… ----

export interface ResolvedMedia {
	media_type: MediaType;
	tmdb_id: number;
	season?: number | null;
	episode?: number | null;
	title?: string | null;
}

export type SourceType = 'hls' | 'mp4';

export interface StreamSource {
	url: string;
	/** Present whenever the source must go through the server's signed proxy. */
	proxy_url?: string | null;
	type: SourceType;
	/** Free text: `auto`, `1080p`, … */
	quality: string;
	provider: string;
	/** What the upstream needs; applied by the proxy, never by the browser. */
	headers: Record<string, string>;
	expires_at?: string | null;
	label?: string | null;
}

export interface SubtitleTrack {
	url: string;
	proxy_url?: string | null;
	lang: string;
	label: string;
}

export interface MarkerRange {
	start: number;
	end: number;
}

export interface Markers {
	intro?: MarkerRange | null;
	outro?: MarkerRange | null;
}

export type OutcomeStatus = 'ok' | 'empty' | 'error' | 'timeout';

export interface ProviderOutcome {
	provider: string;
	status: OutcomeStatus;
	code?: string | null;
	message?: string | null;
	sources?: number | null;
	elapsed_ms?: number | null;
}

export interface ResolveResponse {
	media: ResolvedMedia;
	/** Ranked best first. */
	sources: StreamSource[];
	subtitles: SubtitleTrack[];
	markers?: Markers | null;
	outcomes: ProviderOutcome[];
}

// ---- Library: GET /api/library/items, GET /api/library/items/{media_type}/{tmdb_id} ----

export interface LibraryItem {
	media_type: MediaType;
	tmdb_id: number;
	title: string;
	year: number | null;
	/** A same-origin path such as `/api/library/poster/movie/603`, or null. */
	poster_url: string | null;
	overview: string | null;
}

export interface LibraryItemsResponse {
	items: LibraryItem[];
}

export interface LibraryEpisode {
	episode: number;
	title: string | null;
	/** Seconds. */
	duration: number | null;
}

export interface LibrarySeason {
	season: number;
	episodes: LibraryEpisode[];
}

export interface LibraryItemDetail extends LibraryItem {
	/** tv only. */
	seasons?: LibrarySeason[];
	/** movie only, seconds. */
	duration?: number | null;
}

// ---- Watch progress: /api/progress ----

export interface ProgressEntry {
	media_type: MediaType;
	tmdb_id: number;
	season: number | null;
	episode: number | null;
	position: number;
	duration: number;
	/** RFC 3339. */
	updated_at: string;
	title: string | null;
}

/** GET /api/progress: most recent first. */
export interface ProgressListResponse {
	items: ProgressEntry[];
}

/** GET /api/progress/{media_type}/{tmdb_id}[?season=&episode=] */
export interface SavedProgress {
	position: number;
	duration: number;
	updated_at: string;
}

/** PUT /api/progress/{media_type}/{tmdb_id}[?season=&episode=] body. */
export interface ProgressUpdate {
	position: number;
	duration: number;
}
