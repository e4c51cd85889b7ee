// What this browser decodes, measured in the browser itself, and the compact profile the
// server plans playback with (`src/playback/profile.rs`: same tokens, same version).
// Pure: the probes are injected so tests can play any browser.

/** The probes a browser offers; `measureProfile()` fills them from `window`. */
export interface CapabilityProbes {
	/** `MediaSource.isTypeSupported` (what hls.js can feed); false when MSE is missing. */
	isTypeSupported: (type: string) => boolean;
	/** `HTMLVideoElement.canPlayType` (what `<video src>` plays directly). */
	canPlayType: (type: string) => '' | 'maybe' | 'probably';
	/** `matchMedia(query).matches`. */
	matchMedia: (query: string) => boolean;
}

/** The wire version `profile.rs` reads. */
export const PROFILE_VERSION = '1';
/** The query parameter the profile travels in, beside (never inside) a signed URL. */
export const PROFILE_PARAM = 'profile';

// Codec strings at the levels the engine produces and real files use (level 3.1 for H.264,
// 3.1 for HEVC (L93), 5 for AV1/VP9 at 1080p), so that a browser whose decoder stops at a
// lower level does not claim what it cannot play.
const VIDEO: ReadonlyArray<[token: string, type: string]> = [
	['avc', 'video/mp4; codecs="avc1.64001f"'],
	['avc10', 'video/mp4; codecs="avc1.6e001f"'],
	['hevc', 'video/mp4; codecs="hvc1.1.6.L93.B0"'],
	['hevc10', 'video/mp4; codecs="hvc1.2.4.L93.B0"'],
	['av1', 'video/mp4; codecs="av01.0.05M.08"'],
	['av1_10', 'video/mp4; codecs="av01.0.05M.10"'],
	['vp9', 'video/mp4; codecs="vp09.00.10.08"'],
	['vp9p2', 'video/mp4; codecs="vp09.02.10.10"']
];

const AUDIO: ReadonlyArray<[token: string, type: string]> = [
	['aac', 'audio/mp4; codecs="mp4a.40.2"'],
	['mp3', 'audio/mpeg'],
	['opus', 'audio/mp4; codecs="opus"'],
	['flac', 'audio/mp4; codecs="flac"'],
	['ac3', 'audio/mp4; codecs="ac-3"'],
	['eac3', 'audio/mp4; codecs="ec-3"']
];

// Played from a plain `<video src>`: the container and its usual codecs together.
const CONTAINERS: ReadonlyArray<[token: string, type: string]> = [
	['mp4', 'video/mp4; codecs="avc1.64001f, mp4a.40.2"'],
	['webm', 'video/webm; codecs="vp9, opus"']
];

const MATROSKA = 'video/x-matroska; codecs="avc1.64001f, mp4a.40.2"';

function playsDirectly(probes: CapabilityProbes, type: string): boolean {
	try {
		return probes.canPlayType(type) !== '';
	} catch {
		return false;
	}
}

export interface MeasureOptions {
	/** The viewer's height cap (a quality setting); omitted: none. */
	maxHeight?: number;
	/**
	 * Whether the browser plays multichannel AAC. MSE answers yes to `mp4a.40.2` whatever the
	 * channel count, and no API tells how many channels a decoder outputs, so this is declared
	 * (a setting), not measured.
	 */
	multichannelAac?: boolean;
}

/** The tokens this browser supports, in the server's canonical order. */
export function measureTokens(probes: CapabilityProbes, options: MeasureOptions = {}): string[] {
	const supported = (type: string) => {
		try {
			return probes.isTypeSupported(type);
		} catch {
			// Some browsers throw on a codec string they cannot parse: that is a no.
			return false;
		}
	};
	const tokens: string[] = [];
	for (const [token, type] of VIDEO) if (supported(type)) tokens.push(token);
	for (const [token, type] of AUDIO) {
		if (token === 'mp3') {
			// hls.js feeds MP3 to MSE as `audio/mpeg`; Chromium also accepts it in MP4.
			if (supported(type) || supported('audio/mp4; codecs="mp3"')) tokens.push(token);
		} else if (supported(type)) tokens.push(token);
		if (token === 'aac' && tokens.includes('aac') && options.multichannelAac) tokens.push('aac51');
	}
	for (const [token, type] of CONTAINERS) if (playsDirectly(probes, type)) tokens.push(token);
	if (probes.matchMedia('(dynamic-range: high)')) tokens.push('hdr');
	// After `hdr`, as in the server's canonical order (a later token). Matroska with H.264 and
	// AAC: Chromium's Matroska demuxer says "probably", Firefox's WebM one "".
	if (playsDirectly(probes, MATROSKA)) tokens.push('mkv');
	if (options.maxHeight !== undefined && Number.isInteger(options.maxHeight) && options.maxHeight >= 144 && options.maxHeight <= 4320) {
		tokens.push(`max=${options.maxHeight}`);
	}
	return tokens;
}

/** The wire form, e.g. `1:avc,av1,vp9,aac,opus,mp4,webm`. */
export function serializeProfile(tokens: readonly string[]): string {
	return `${PROFILE_VERSION}:${tokens.join(',')}`;
}

/** The profile of the browser running this code; the conservative default outside one. */
export function measureProfile(options: MeasureOptions = {}): string {
	if (typeof window === 'undefined' || typeof document === 'undefined') return serializeProfile(['avc', 'aac', 'mp4']);
	const MS: { isTypeSupported?: (t: string) => boolean } | undefined =
		(window as unknown as { ManagedMediaSource?: typeof MediaSource }).ManagedMediaSource ?? window.MediaSource;
	const video = document.createElement('video');
	return serializeProfile(
		measureTokens(
			{
				// Without MSE (iPhones before iOS 17.1) the player uses native HLS, whose decoders
				// are the element's own.
				isTypeSupported: (t) => (MS?.isTypeSupported ? MS.isTypeSupported(t) : video.canPlayType(t) !== ''),
				canPlayType: (t) => video.canPlayType(t) as '' | 'maybe' | 'probably',
				matchMedia: (q) => typeof window.matchMedia === 'function' && window.matchMedia(q).matches
			},
			options
		)
	);
}

/** `url` with the profile added as its own query parameter, outside whatever the URL signs. */
export function withProfile(url: string, profile: string): string {
	const u = new URL(url, 'http://placeholder.invalid');
	u.searchParams.set(PROFILE_PARAM, profile);
	return url.startsWith('http') ? u.toString() : `${u.pathname}${u.search}${u.hash}`;
}

// A library file's HLS (`/api/media/<id>/hls/…`) or a remote file's through the playback
// engine (`/api/playback/r/<sealed>/…`), relative or absolute: what the server packages per
// profile. Other URLs (the file for direct play, proxied sources) stay as they are.
const LIBRARY_HLS = /^(?:https?:\/\/[^/]+)?\/api\/(?:media\/\d+\/hls|playback\/r\/[\w.-]+)\//;

/** Whether the server packages `url` per profile (so a quality choice applies to it). */
export function isEnginePackaged(url: string): boolean {
	return LIBRARY_HLS.test(url);
}

/** Measured once per page and height cap: the probes do not change while the page lives. */
const browserProfiles = new Map<number | undefined, string>();

/**
 * `url` with this browser's profile when it is a library HLS URL; `options.maxHeight` is the
 * viewer's quality choice (`max=` in the profile), which changes the rendition the server encodes.
 */
export function withBrowserProfile(
	url: string,
	measure: (options: MeasureOptions) => string = measureProfile,
	options: MeasureOptions = {}
): string {
	if (!isEnginePackaged(url)) return url;
	return withProfile(url, browserProfile(measure, options));
}

/**
 * This browser's profile for a height cap, measured once: what the player sends with a library
 * HLS URL, and the watch page with its first resolve so that the server starts packaging the
 * first source before the player asks (`src/api/warm.rs`); both must be the same string.
 */
export function browserProfile(
	measure: (options: MeasureOptions) => string = measureProfile,
	options: MeasureOptions = {}
): string {
	let profile = browserProfiles.get(options.maxHeight);
	if (profile === undefined) {
		profile = measure(options);
		browserProfiles.set(options.maxHeight, profile);
	}
	return profile;
}
