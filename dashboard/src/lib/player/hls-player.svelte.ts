// The one class that owns playback: the <video> element, hls.js, source fallback, tracks and
// progress saving; subtitles are its `subtitles` controller. Components only read $state fields
// and call methods.
import { untrack } from 'svelte';
import type Hls from 'hls.js';
import type { ErrorData } from 'hls.js';
import { getEngineSubtitles, getProxyUrl, reportSource } from '$lib/api/client';
import type { ResolvedMedia as MediaInfo, StreamSource, SubtitleTrack } from '$lib/api/types';
import {
	applyAction,
	decide,
	fromHlsError,
	fromMediaError,
	initialState,
	pickSource,
	type Engine,
	type FallbackState,
	type PlaybackError,
	type ReportStage,
	reportStage,
	type SourceFailure
} from './fallback';
import { httpErrorStatus } from './http-status';
import { playableHere } from './plays-here';
import { burnChanged, burnedUrl, burnTarget, type BurnIn } from './burn-in';
import type { LanguageMode } from '$lib/api/generated/LanguageMode';
import { LanguageSettings } from './language-settings.svelte';
import { chooseAudio, chooseSubtitle } from './languages';
import { loadPreferences, sameLanguage, savePreferences } from './preferences';
import { ProgressSaver, type SaveProgress } from './progress-saver';
import { SubtitleController, type SubtitleControllerOptions } from './subtitle-controller.svelte';

export type { SubtitleOption } from './subtitle-controller.svelte';
import { isEnginePackaged, withBrowserProfile } from './capabilities';
import { qualityMaxHeight, qualityMenu, sourceForQuality, type EngineQuality, type QualityMenu } from './quality';

export type PlayerState = 'idle' | 'loading' | 'playing' | 'paused' | 'error';

export interface QualityLevel {
	/** hls.js level index. */
	index: number;
	height: number;
	bitrate: number;
}

export interface AudioOption {
	id: number;
	lang: string;
	name: string;
	/** The stream marks it as default (the original, usually). */
	default?: boolean;
}

export interface TimeRange {
	start: number;
	end: number;
}

export interface PlayerLoad {
	sources: StreamSource[];
	subtitles: SubtitleTrack[];
	/** Seconds; the saved position to resume from. */
	startAt: number;
	/** Where this title's position is saved; bound per load so a new episode never gets the old one's position. */
	saveProgress?: SaveProgress;
	/** The title: its series' last language choice applies (`languages.ts`). */
	media?: MediaInfo;
}

type HlsModule = typeof import('./create-hls');

export interface HlsPlayerOptions {
	onEnded?: () => void;
	/** Replaceable in tests. */
	now?: () => number;
	loadHls?: () => Promise<HlsModule>;
	/** A source that has not produced a frame by then counts as failed. */
	startTimeoutMs?: number;
	subtitles?: SubtitleControllerOptions;
	/** The viewer's languages; replaceable in tests. */
	languages?: LanguageSettings;
	/** The subtitles embedded in a remote engine source; replaceable in tests. */
	getEngineSubtitles?: (master: string) => Promise<SubtitleTrack[]>;
	/** Tells the server a source failed (`reportSource`); replaceable in tests. */
	report?: (proxyUrl: string, stage: ReportStage, code: string) => void;
}

/** A remote file's master playlist on the playback engine (`/api/playback/r/<sealed>/`). */
const ENGINE_SOURCE = /^(?:https?:\/\/[^/]+)?\/api\/playback\/r\/[\w.-]+\/master\.m3u8/;

export const PLAYBACK_RATES = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2] as const;
const START_TIMEOUT_MS = 30_000;
/** How often the displayed time is refreshed while playing (timeupdate alone is ~4 Hz: too coarse for subtitles). */
const TIME_REFRESH_MS = 100;

export class HlsPlayer {
	playerState = $state<PlayerState>('idle');
	/** Waiting for data (spinner) while playing or seeking. */
	buffering = $state(false);
	/** Muted by us because the browser refused unmuted autoplay: the UI offers to unmute. */
	autoMuted = $state(false);

	sources = $state.raw<StreamSource[]>([]);
	sourceIndex = $state(-1);
	engine = $state<Engine | null>(null);
	/** Sources given up so far, with the reason. */
	failures = $state.raw<SourceFailure[]>([]);
	/** The last fatal error's `details` (e.g. `manifestLoadError`), for `data-error`. */
	errorDetails = $state<string | null>(null);
	/** Where the viewer was when every source failed: "Réessayer" starts there again. */
	failedAt = $state(0);

	currentTime = $state(0);
	duration = $state(NaN);
	buffered = $state.raw<TimeRange[]>([]);
	paused = $state(true);
	volume = $state(1);
	muted = $state(false);
	rate = $state(1);
	pictureInPicture = $state(false);

	levels = $state.raw<QualityLevel[]>([]);
	/** Chosen level index, -1 for automatic. */
	level = $state(-1);
	/** Level being played (what "Auto" currently means). */
	currentLevel = $state(-1);
	/** The engine's rendition for library and remote files (a viewer preference). */
	quality = $state<EngineQuality>('original');

	audioTracks = $state.raw<AudioOption[]>([]);
	audioTrack = $state(-1);
	/** The image subtitle burned into the picture, if any (`burn-in.ts`). */
	burnIn = $state.raw<BurnIn | null>(null);

	readonly subtitles: SubtitleController;
	readonly languages: LanguageSettings;

	#options: HlsPlayerOptions;
	#video: HTMLVideoElement | null = null;
	#hls: Hls | null = null;
	#hlsModule: HlsModule | null = null;
	#fallback: FallbackState = initialState();
	/** Bumped on every source start, so late events from a previous source are ignored. */
	#generation = 0;
	#sourceStarted = false;
	#pendingStart = 0;
	#startTimer: ReturnType<typeof setTimeout> | null = null;
	#saver: ProgressSaver | null = null;
	/** Teardown of `subtitles.attach(hls)` for the current hls.js instance. */
	#detachSubtitles: (() => void) | null = null;
	/** A source start requested before `attach()`: run as soon as there is a <video>. */
	#deferredStart: [index: number, resumeAt: number] | null = null;
	/** The audio track playing before a reload for a burn-in: chosen again in the new stream. */
	#carryAudio: AudioOption | null = null;
	/** Bumped on every title load, so a late language answer never applies to the next title. */
	#titleLoads = 0;
	/** The viewer picked an audio track for this title: the preferences no longer apply. */
	#audioPicked = false;

	constructor(options: HlsPlayerOptions = {}) {
		this.#options = options;
		this.languages = options.languages ?? new LanguageSettings();
		this.subtitles = new SubtitleController({
			choose: (opts) => chooseSubtitle(opts, this.#audioLang(), this.languages.context()),
			onSelect: (lang) => this.languages.recordChoice({ subtitles: lang }),
			...options.subtitles,
			onBurn: (track) => this.#setBurnIn(track)
		});
		const prefs = loadPreferences();
		this.quality = prefs.quality;
		this.volume = prefs.volume;
		this.muted = prefs.muted;
	}

	get source(): StreamSource | null {
		return this.sources[this.sourceIndex] ?? null;
	}

	/** The engine source whose embedded subtitles the menu lists (`proxy_url`), if any. */
	#sourceSubtitlesOf: string | null = null;

	#getEngineSubtitles(master: string): Promise<SubtitleTrack[]> {
		return (this.#options.getEngineSubtitles ?? getEngineSubtitles)(master);
	}

	#now(): number {
		return this.#options.now?.() ?? Date.now();
	}

	// ---- Lifecycle ----

	/**
	 * Binds the player to its <video>; returns the teardown (for an `$effect`). Untracked: called
	 * from an effect, reading `volume` here must not make a volume change re-attach the player.
	 */
	attach(video: HTMLVideoElement): () => void {
		return untrack(() => this.#attach(video));
	}

	#attach(video: HTMLVideoElement): () => void {
		this.#video = video;
		video.volume = this.volume;
		video.muted = this.muted;
		const controller = new AbortController();
		const on = <K extends keyof HTMLVideoElementEventMap>(
			type: K,
			listener: (event: HTMLVideoElementEventMap[K]) => void
		) => video.addEventListener(type, listener, { signal: controller.signal });

		on('playing', () => this.#onPlaying());
		on('play', () => (this.paused = false));
		on('pause', () => this.#onPause());
		on('waiting', () => (this.buffering = true));
		on('seeking', () => (this.buffering = true));
		on('canplay', () => (this.buffering = false));
		on('seeked', () => {
			this.buffering = false;
			this.currentTime = video.currentTime;
		});
		on('loadeddata', () => this.#clearStartTimer());
		on('timeupdate', () => this.#onTimeUpdate());
		on('durationchange', () => (this.duration = video.duration));
		on('loadedmetadata', () => (this.duration = video.duration));
		on('progress', () => this.#syncBuffered());
		on('volumechange', () => {
			this.volume = video.volume;
			this.muted = video.muted;
		});
		on('ratechange', () => (this.rate = video.playbackRate));
		on('ended', () => this.#onEnded());
		on('error', () => {
			// A stale error from a source we already left reads as null here (load() reset it).
			const error = fromMediaError(video.error);
			if (!error || !this.engine) return;
			if (this.engine === 'hls') {
				this.#handleError(error);
				return;
			}
			// A file or native HLS: was it the server (an HTTP status) or the codecs?
			const generation = this.#generation;
			void httpErrorStatus(video.currentSrc || video.src).then((status) => {
				if (generation === this.#generation) this.#handleError(status ? { ...error, status } : error);
			});
		});
		on('enterpictureinpicture', () => (this.pictureInPicture = true));
		on('leavepictureinpicture', () => (this.pictureInPicture = false));

		// Save on the way out. `pagehide` covers closing and navigating away; `visibilitychange`
		// covers mobile browsers that kill a background tab without a pagehide.
		const leave = () => this.flushProgress(true);
		window.addEventListener('pagehide', leave, { signal: controller.signal });
		document.addEventListener(
			'visibilitychange',
			() => document.visibilityState === 'hidden' && leave(),
			{ signal: controller.signal }
		);

		const stopClock = this.#startClock();
		if (this.#deferredStart) {
			const [index, resumeAt] = this.#deferredStart;
			this.#deferredStart = null;
			void this.#startSource(index, resumeAt);
		}
		return () => {
			this.flushProgress(true);
			controller.abort();
			stopClock();
			this.#teardownEngine();
			this.#clearStartTimer();
			this.#video = null;
		};
	}

	/** Starts the best-ranked playable source of a resolve response (untracked, like `attach`). */
	load(request: PlayerLoad): void {
		untrack(() => this.#load(request));
	}

	#load(request: PlayerLoad): void {
		this.unload();
		// A file this browser cannot play as it is (a WebM in Safari) is left out before any
		// attempt: its HLS packaging follows it in the list.
		this.sources = playableHere(request.sources);
		this.#saver = request.saveProgress ? new ProgressSaver(request.saveProgress) : null;
		this.burnIn = null;
		this.#audioPicked = false;
		const load = ++this.#titleLoads;
		this.languages.select(request.media);
		this.subtitles.load(request.subtitles);
		// After the subtitles' own requests: the title's files come first on a slow link.
		if (request.media) {
			void this.languages.load().then(() => load === this.#titleLoads && this.#applyLanguages());
		}

		this.#sourceStarted = false;
		this.#pendingStart = request.startAt;
		const { index, skipped } = pickSource(this.sources, new Set(), this.#now());
		this.#fallback = { ...initialState(index ?? 0), failures: skipped };
		this.failures = skipped;
		if (index === null) {
			this.#fail(skipped, this.sources.length ? 'expired' : 'noSources');
			return;
		}
		void this.#startSource(sourceForQuality(this.#sourceUrls(), index, this.quality), request.startAt);
	}

	/** Stops playback (saving the position first) and forgets the current title. */
	unload(): void {
		this.flushProgress(true);
		this.#saver = null;
		this.#deferredStart = null;
		this.#generation++;
		this.#teardownEngine();
		this.#clearStartTimer();
		this.#sourceSubtitlesOf = null;
		this.sources = [];
		this.sourceIndex = -1;
		this.failures = [];
		this.errorDetails = null;
		this.playerState = 'idle';
		this.buffering = false;
		this.currentTime = 0;
		this.duration = NaN;
		this.buffered = [];
		this.subtitles.clear();
	}

	flushProgress(keepalive = false): void {
		const video = this.#video;
		if (!video || !this.#sourceStarted) return;
		this.#saver?.flush(video.currentTime, video.duration, this.#now(), keepalive);
	}

	// ---- Sources and fallback ----

	async #startSource(index: number, resumeAt: number): Promise<void> {
		const video = this.#video;
		if (!video) {
			this.#deferredStart = [index, resumeAt];
			this.sourceIndex = index;
			this.playerState = 'loading';
			return;
		}
		const generation = ++this.#generation;
		this.#teardownEngine();
		this.sourceIndex = index;
		this.playerState = 'loading';
		this.buffering = true;
		this.#sourceStarted = false;
		this.#pendingStart = resumeAt;
		this.currentTime = resumeAt;
		this.#armStartTimer(generation);

		const source = this.sources[index];
		// Library HLS is packaged for what this browser decodes (`docs/playback.md`), at the
		// chosen quality, with the chosen image subtitle burned in.
		const profiled = withBrowserProfile(getProxyUrl(source), undefined, { maxHeight: qualityMaxHeight(this.quality) });
		const url = burnedUrl(profiled, index, this.burnIn);
		if (source.type === 'mp4') {
			this.#playDirect('file', url, resumeAt);
			return;
		}

		let module: HlsModule;
		try {
			module = await this.#loadHlsModule();
		} catch {
			// The hls.js chunk could not be downloaded (offline, new deploy): treat it as a network failure.
			if (generation === this.#generation) {
				this.#handleError({ origin: 'player', type: 'network', details: 'hlsLoadFailed', fatal: true });
			}
			return;
		}
		if (generation !== this.#generation) return;

		// hls.js first: Chrome now claims native HLS too, but then hls.js error events (and
		// therefore the fallback) would be bypassed. Native only where hls.js cannot run.
		if (module.Hls.isSupported()) {
			this.#playWithHls(module, url, resumeAt, generation);
		} else if (video.canPlayType('application/vnd.apple.mpegurl')) {
			this.#playDirect('native', url, resumeAt);
		} else {
			this.#handleError({ origin: 'player', type: 'other', details: 'hlsUnsupported', fatal: true });
		}
	}

	#loadHlsModule(): Promise<HlsModule> {
		if (this.#hlsModule) return Promise.resolve(this.#hlsModule);
		const load = this.#options.loadHls ?? (() => import('./create-hls'));
		return load().then((module) => (this.#hlsModule = module));
	}

	#playWithHls(module: HlsModule, url: string, resumeAt: number, generation: number): void {
		const video = this.#video!;
		const { Hls: HlsClass, createHls } = module;
		const hls = createHls({ startPosition: resumeAt });
		this.#hls = hls;
		this.engine = 'hls';
		const current = () => generation === this.#generation;
		const Events = HlsClass.Events;

		hls.on(Events.ERROR, (_event, data: ErrorData) => {
			if (current()) this.#handleError(fromHlsError(data));
		});
		hls.on(Events.MANIFEST_PARSED, () => {
			if (!current()) return;
			this.#loadSourceSubtitles();
			this.#syncLevels();
			void this.#autoplay(generation);
		});
		hls.on(Events.LEVELS_UPDATED, () => current() && this.#syncLevels());
		hls.on(Events.LEVEL_SWITCHED, (_event, data) => {
			if (current()) this.currentLevel = data.level;
		});
		hls.on(Events.AUDIO_TRACKS_UPDATED, () => current() && this.#syncAudioTracks());
		hls.on(Events.AUDIO_TRACK_SWITCHED, (_event, data) => {
			if (current()) this.audioTrack = data.id;
		});
		this.#detachSubtitles = this.subtitles.attach(hls, Events);

		hls.attachMedia(video);
		hls.loadSource(url);
	}

	/**
	 * The subtitles embedded in a remote file the engine plays, asked for once its master playlist
	 * is loaded (the server has probed the file then); once per source, so a reload for a quality
	 * or a burned-in subtitle keeps the choice. Another source's are dropped.
	 */
	#loadSourceSubtitles(): void {
		const master = this.sources[this.sourceIndex]?.proxy_url ?? null;
		if (master === this.#sourceSubtitlesOf) return;
		this.#sourceSubtitlesOf = master;
		this.subtitles.setSourceTracks([]);
		if (!master || !ENGINE_SOURCE.test(master)) return;
		this.#getEngineSubtitles(master).then(
			(tracks) => {
				if (this.#sourceSubtitlesOf === master) this.subtitles.setSourceTracks(tracks);
			},
			// The video plays without them; the menu keeps the resolve answer's.
			(error) => console.warn('[player] the remote file lists no subtitles', error)
		);
	}

	/** A plain file (`type: mp4`), or HLS where the browser plays it itself (iOS without MSE). */
	#playDirect(engine: Engine, url: string, resumeAt: number): void {
		const video = this.#video!;
		const generation = this.#generation;
		this.engine = engine;
		if (resumeAt > 0) {
			video.addEventListener(
				'loadedmetadata',
				() => {
					if (generation === this.#generation) video.currentTime = resumeAt;
				},
				{ once: true }
			);
		}
		video.src = url;
		void this.#autoplay(generation);
	}

	async #autoplay(generation: number): Promise<void> {
		const video = this.#video;
		if (!video) return;
		try {
			await video.play();
		} catch (error) {
			if (generation !== this.#generation) return;
			const name = error instanceof DOMException ? error.name : '';
			// Browsers refuse unmuted autoplay without a recent user gesture; muted is allowed.
			if (name === 'NotAllowedError' && !video.muted) {
				video.muted = true;
				this.autoMuted = true;
				try {
					await video.play();
					return;
				} catch {
					// Still refused: wait for the user to press play.
				}
			}
			// AbortError means a newer load() replaced this one; anything else, let the user start.
			if (name !== 'AbortError' && this.playerState === 'loading') {
				this.playerState = 'paused';
				this.buffering = false;
			}
		}
	}

	#handleError(error: PlaybackError): void {
		if (!error.fatal) return;
		console.warn('[player]', error.origin, error.type, error.details, error.status ?? '', 'FATAL');
		this.errorDetails = error.details;
		const now = this.#now();
		const failing = this.sources[this.#fallback.index];
		const action = decide(this.sources, this.#fallback, error, {
			now,
			position: this.#resumePoint(),
			engine: this.engine ?? 'file',
			started: this.#sourceStarted
		});
		this.#fallback = applyAction(this.#fallback, action, now);
		if (action.kind === 'next' || action.kind === 'fail') this.#report(failing, error);

		switch (action.kind) {
			case 'ignore':
				return;
			case 'recover':
				this.#hls?.recoverMediaError();
				return;
			case 'retry':
			case 'next':
				this.failures = this.#fallback.failures;
				void this.#startSource(action.index, action.resumeAt);
				return;
			case 'fail':
				this.#fail(action.reasons, error.details);
				return;
		}
	}

	/** A source given up is reported, so the server stops handing it to other viewers. */
	#report(source: StreamSource | undefined, error: PlaybackError): void {
		const stage = reportStage(error);
		if (!source?.proxy_url || !stage) return;
		const report = this.#options.report ?? ((url, s, code) => void reportSource(url, s, code));
		report(source.proxy_url, stage, error.details);
	}

	#fail(reasons: SourceFailure[], details: string): void {
		this.failedAt = this.#resumePoint();
		this.flushProgress();
		this.#generation++;
		this.#teardownEngine();
		this.#clearStartTimer();
		this.failures = reasons;
		this.errorDetails = details;
		this.playerState = 'error';
		this.buffering = false;
	}

	/** Where another source should pick up: the current time, or the resume point if nothing played yet. */
	#resumePoint(): number {
		const video = this.#video;
		return this.#sourceStarted && video ? video.currentTime : this.#pendingStart;
	}

	#armStartTimer(generation: number): void {
		this.#clearStartTimer();
		this.#startTimer = setTimeout(() => {
			if (generation === this.#generation && !this.#sourceStarted) {
				this.#handleError({ origin: 'player', type: 'network', details: 'startTimeout', fatal: true });
			}
		}, this.#options.startTimeoutMs ?? START_TIMEOUT_MS);
	}

	#clearStartTimer(): void {
		if (this.#startTimer !== null) clearTimeout(this.#startTimer);
		this.#startTimer = null;
	}

	#teardownEngine(): void {
		this.#detachSubtitles?.();
		this.#detachSubtitles = null;
		this.#hls?.destroy();
		this.#hls = null;
		this.engine = null;
		this.levels = [];
		this.level = -1;
		this.currentLevel = -1;
		this.audioTracks = [];
		this.audioTrack = -1;
		const video = this.#video;
		if (video && video.hasAttribute('src')) {
			// removeAttribute + load() empties the element without the error event `src = ''` fires.
			video.removeAttribute('src');
			try {
				video.load();
			} catch {
				// jsdom and very old engines: nothing to reset.
			}
		}
	}

	// ---- Media element events ----

	#onPlaying(): void {
		this.playerState = 'playing';
		this.paused = false;
		this.buffering = false;
		if (!this.#sourceStarted) {
			this.#sourceStarted = true;
			this.#clearStartTimer();
			// Only now is the position real (the resume point has been reached): start saving.
			this.#saver?.arm();
		}
	}

	#onPause(): void {
		this.paused = true;
		// Pauses caused by a source change or a failure are not the user's.
		if (this.playerState === 'loading' || this.playerState === 'error') return;
		this.playerState = 'paused';
		this.flushProgress();
	}

	#onEnded(): void {
		this.paused = true;
		if (this.playerState !== 'error') this.playerState = 'paused';
		this.flushProgress();
		this.#options.onEnded?.();
	}

	#onTimeUpdate(): void {
		const video = this.#video;
		if (!video) return;
		this.currentTime = video.currentTime;
		if (this.#sourceStarted) this.#saver?.tick(video.currentTime, video.duration, this.#now());
	}

	#syncBuffered(): void {
		const ranges = this.#video?.buffered;
		if (!ranges) return;
		const list: TimeRange[] = [];
		for (let i = 0; i < ranges.length; i++) list.push({ start: ranges.start(i), end: ranges.end(i) });
		this.buffered = list;
	}

	/** A ~10 Hz refresh of `currentTime` while playing, for smooth subtitles and seek bar. */
	#startClock(): () => void {
		if (typeof requestAnimationFrame !== 'function') return () => {};
		let frame = 0;
		let last = 0;
		const loop = (time: number) => {
			const video = this.#video;
			if (video && !video.paused && time - last >= TIME_REFRESH_MS) {
				last = time;
				this.currentTime = video.currentTime;
			}
			frame = requestAnimationFrame(loop);
		};
		frame = requestAnimationFrame(loop);
		return () => cancelAnimationFrame(frame);
	}

	// ---- Transport controls ----

	play(): void {
		const video = this.#video;
		if (!video || this.playerState === 'error') return;
		void Promise.resolve(video.play()).catch(() => {
			// Refused or interrupted; the state stays as the element reports it.
		});
	}

	togglePlay(): void {
		if (!this.#video) return;
		if (this.#video.paused) this.play();
		else this.#video.pause();
	}

	seek(seconds: number): void {
		const video = this.#video;
		if (!video) return;
		const end = Number.isFinite(this.duration) ? this.duration : Infinity;
		const target = Math.max(0, Math.min(seconds, end));
		if (!this.#sourceStarted) this.#pendingStart = target;
		video.currentTime = target;
		this.currentTime = target;
	}

	seekBy(delta: number): void {
		this.seek((this.#video?.currentTime ?? this.currentTime) + delta);
	}

	seekToFraction(fraction: number): void {
		if (Number.isFinite(this.duration)) this.seek(this.duration * fraction);
	}

	setVolume(volume: number): void {
		const video = this.#video;
		if (!video) return;
		video.volume = Math.max(0, Math.min(1, volume));
		if (video.volume > 0 && video.muted) video.muted = false;
		this.autoMuted = false;
		savePreferences({ volume: video.volume, muted: video.muted });
	}

	toggleMute(): void {
		const video = this.#video;
		if (!video) return;
		video.muted = !video.muted;
		if (!video.muted && video.volume === 0) video.volume = 0.5;
		this.autoMuted = false;
		savePreferences({ muted: video.muted, volume: video.volume });
	}

	setRate(rate: number): void {
		if (this.#video) this.#video.playbackRate = rate;
	}

	// ---- Quality, sources, audio ----

	setLevel(index: number): void {
		if (!this.#hls) return;
		// nextLevel switches at the next fragment, without flushing what is buffered.
		this.#hls.nextLevel = index;
		this.level = index;
	}

	/** The user picked a source: switch at the current position; failures seen so far stay known. */
	selectSource(index: number): void {
		if (!this.sources[index] || index === this.sourceIndex) return;
		const position = this.#resumePoint();
		this.#fallback = { ...initialState(index), failures: this.#fallback.failures };
		void this.#startSource(index, position);
	}

	/**
	 * The subtitles shown changed: reload the stream at the current position when that changes
	 * what is burned in (an image subtitle picked, or left for text subtitles or none), keeping
	 * the audio track.
	 */
	#setBurnIn(track: SubtitleTrack | null): void {
		const next = track ? burnTarget(this.sources, track) : null;
		if (!burnChanged(this.burnIn, next)) return;
		// Off: only the burned stream, if it is still the one playing, needs a reload.
		const reload = next !== null || this.burnIn?.sourceIndex === this.sourceIndex;
		const index = next ? next.sourceIndex : this.sourceIndex;
		this.burnIn = next;
		if (!reload || !this.sources[index]) return;
		const position = this.#resumePoint();
		this.#carryAudio = this.audioTracks.find((t) => t.id === this.audioTrack) ?? null;
		this.#fallback = { ...initialState(index), failures: this.#fallback.failures };
		void this.#startSource(index, position);
	}

	/** The quality menu for the current source: its own hls.js ladder, the engine's choices, or none. */
	get qualityMenu(): QualityMenu {
		const index = this.sourceIndex;
		const source = this.sources[index];
		const engine =
			!!source &&
			(isEnginePackaged(getProxyUrl(source)) || sourceForQuality(this.#sourceUrls(), index, '480') !== index);
		return qualityMenu(this.levels.length, engine);
	}

	/**
	 * The viewer picked an engine rendition: remembered, then the source restarts at the current
	 * position with the new profile (or moves from the file played as is to its engine HLS).
	 * The audio language and the subtitle choice carry over as on any source change.
	 */
	setQuality(quality: EngineQuality): void {
		if (quality === this.quality) return;
		this.quality = quality;
		savePreferences({ quality });
		if (this.sourceIndex < 0) return;
		const target = sourceForQuality(this.#sourceUrls(), this.sourceIndex, quality);
		const position = this.#resumePoint();
		this.#fallback = { ...initialState(target), failures: this.#fallback.failures };
		void this.#startSource(target, position);
	}

	#sourceUrls(): string[] {
		return this.sources.map((s) => getProxyUrl(s));
	}

	setAudioTrack(id: number): void {
		if (!this.#hls) return;
		this.#hls.audioTrack = id;
		this.audioTrack = id;
		const track = this.audioTracks.find((t) => t.id === id);
		if (track) savePreferences({ audioLang: track.lang || track.name });
		this.#audioPicked = true;
		if (track?.lang) this.languages.recordChoice({ audio: track.lang });
		this.subtitles.reapply();
	}

	/** The "Langues" menu: the mode is saved on the server and applied to this source at once. */
	async setLanguageMode(mode: LanguageMode): Promise<void> {
		await this.languages.setMode(mode);
		this.#audioPicked = false;
		this.subtitles.forgetChoice();
		this.#applyLanguages();
	}

	#audioLang(): string | null {
		return this.audioTracks.find((t) => t.id === this.audioTrack)?.lang || null;
	}

	/** The viewer's languages arrived (or changed): the audio track, then the subtitles. */
	#applyLanguages(): void {
		const hls = this.#hls;
		if (hls && !this.#audioPicked) {
			const id = chooseAudio(this.audioTracks, this.languages.context());
			if (id !== undefined && id !== hls.audioTrack) {
				hls.audioTrack = id;
				this.audioTrack = id;
			}
		}
		this.subtitles.reapply();
	}

	#syncLevels(): void {
		const hls = this.#hls;
		if (!hls) return;
		this.levels = hls.levels.map((level, index) => ({
			index,
			height: level.height,
			bitrate: level.bitrate
		}));
		this.currentLevel = hls.currentLevel;
	}

	#syncAudioTracks(): void {
		const hls = this.#hls;
		if (!hls) return;
		this.audioTracks = hls.audioTracks.map((track) => ({
			id: track.id,
			lang: track.lang ?? '',
			name: track.name,
			default: track.default
		}));
		this.audioTrack = hls.audioTrack;
		// The track of the stream just left for a burn-in, else the last audio choice (next
		// episode, next visit).
		const carried = this.#carryAudio;
		this.#carryAudio = null;
		const wanted = loadPreferences().audioLang;
		const chosen = this.#audioPicked ? undefined : chooseAudio(this.audioTracks, this.languages.context());
		const match = carried
			? this.audioTracks.find((t) => t.name === carried.name && t.lang === carried.lang)
			: chosen !== undefined
				? this.audioTracks.find((t) => t.id === chosen)
				: wanted
				? this.audioTracks.find((t) => sameLanguage(t.lang, wanted) || t.name === wanted)
				: undefined;
		if (match && match.id !== hls.audioTrack) {
			hls.audioTrack = match.id;
			this.audioTrack = match.id;
		}
		this.subtitles.reapply();
	}

	// ---- Picture-in-picture ----

	get pictureInPictureSupported(): boolean {
		return typeof document !== 'undefined' && 'pictureInPictureEnabled' in document && document.pictureInPictureEnabled;
	}

	async togglePictureInPicture(): Promise<void> {
		const video = this.#video;
		if (!video || !this.pictureInPictureSupported) return;
		try {
			if (document.pictureInPictureElement) await document.exitPictureInPicture();
			else await video.requestPictureInPicture();
		} catch {
			// Refused (no metadata yet, or disabled by the page's policy): nothing to undo.
		}
	}
}
