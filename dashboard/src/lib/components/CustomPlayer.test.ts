import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import type { ComponentProps } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PREFERENCES_KEY } from '$lib/player/preferences';
import { resolveResponse, streamSource } from '../../test-data/resolve';
import CustomPlayer from './CustomPlayer.svelte';

// jsdom has no media pipeline: stub what the player calls, and drive the <video> by events.
beforeEach(() => {
	localStorage.clear();
	vi.spyOn(HTMLMediaElement.prototype, 'play').mockResolvedValue(undefined);
	vi.spyOn(HTMLMediaElement.prototype, 'pause').mockImplementation(() => {});
	vi.spyOn(HTMLMediaElement.prototype, 'load').mockImplementation(() => {});
	vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(() => {
	vi.restoreAllMocks();
	vi.unstubAllGlobals();
});

function playerEl() {
	return screen.getByTestId('player');
}

function videoEl(): HTMLVideoElement {
	return playerEl().querySelector('video')!;
}

/** Sets read-only media properties the way a browser would report them. */
function setMedia(video: HTMLVideoElement, values: Partial<Record<'currentTime' | 'duration', number>> & { error?: { code: number } | null }) {
	for (const [name, value] of Object.entries(values)) {
		Object.defineProperty(video, name, { value, writable: true, configurable: true });
	}
}

/** Renders the player and waits until it has given the <video> its source. */
async function renderLoaded(props: ComponentProps<typeof CustomPlayer>): Promise<HTMLVideoElement> {
	render(CustomPlayer, props);
	const video = videoEl();
	await waitFor(() => expect(video.getAttribute('src')).not.toBeNull());
	return video;
}

/** The position (and duration) as the browser reports them, with the events that carry them. */
async function moveTo(video: HTMLVideoElement, currentTime: number, duration?: number) {
	setMedia(video, duration === undefined ? { currentTime } : { currentTime, duration });
	if (duration !== undefined) await fireEvent(video, new Event('durationchange'));
	await fireEvent.timeUpdate(video);
}

const withIntro = () => ({ resolution: resolveResponse({ markers: { intro: { start: 30, end: 95.5 } } }) });

describe('CustomPlayer', () => {
	it('shows a spinner while the sources are being resolved', () => {
		render(CustomPlayer, { resolution: null });

		expect(playerEl()).toHaveAttribute('data-state', 'loading');
		expect(screen.getByRole('status')).toHaveTextContent('Recherche des sources…');
	});

	it('plays the first source through its proxy URL and reports the playing state', async () => {
		const response = resolveResponse();
		render(CustomPlayer, { resolution: response });

		await waitFor(() => expect(videoEl().getAttribute('src')).toBe(response.sources[0].proxy_url));
		expect(playerEl()).toHaveAttribute('data-source-index', '0');

		await fireEvent(videoEl(), new Event('playing'));
		expect(playerEl()).toHaveAttribute('data-state', 'playing');
	});

	it('moves to the next source when one fails, then names every provider when all have failed', async () => {
		const sources = [
			streamSource({ provider: 'consumet', quality: '1080p' }),
			streamSource({ provider: 'jellyfin', quality: '720p', proxy_url: undefined, url: '/media/720.mp4' })
		];
		const onRetry = vi.fn();
		// The files answer: the failures are the browser's (codecs, network), not HTTP statuses.
		vi.stubGlobal('fetch', vi.fn(async () => new Response('x', { status: 206 })));
		render(CustomPlayer, {
			resolution: resolveResponse({
				sources,
				outcomes: [
					{ provider: 'consumet', status: 'ok', elapsed_ms: 0, sources: 1 },
					{ provider: 'jellyfin', status: 'ok', elapsed_ms: 0, sources: 1 },
					{ provider: 'stremio', status: 'timeout', elapsed_ms: 0, sources: 0 }
				]
			}),
			onRetry
		});
		await waitFor(() => expect(videoEl().getAttribute('src')).toBe(sources[0].proxy_url));

		setMedia(videoEl(), { error: { code: 4 } });
		await fireEvent(videoEl(), new Event('error'));

		await waitFor(() => expect(playerEl()).toHaveAttribute('data-source-index', '1'));
		expect(playerEl()).toHaveAttribute('data-state', 'loading');
		// No proxy URL: the direct URL is used.
		await waitFor(() => expect(videoEl().getAttribute('src')).toBe('/media/720.mp4'));

		setMedia(videoEl(), { error: { code: 2 } });
		await fireEvent(videoEl(), new Event('error'));

		await waitFor(() => expect(playerEl()).toHaveAttribute('data-state', 'error'));
		expect(playerEl()).toHaveAttribute('data-error', 'mediaErrNetwork');
		const alert = screen.getByTestId('player-error');
		expect(alert).toHaveAttribute('role', 'alert');
		expect(alert).toHaveTextContent('Aucune source n’a pu être lue.');
		expect(within(alert).getByText('Consumet').closest('li')).toHaveTextContent(
			'1080p : codecs non pris en charge par ce navigateur'
		);
		expect(within(alert).getByText('Jellyfin').closest('li')).toHaveTextContent('720p : erreur réseau');
		expect(within(alert).getByText('Stremio').closest('li')).toHaveTextContent('pas de réponse à temps');

		await fireEvent.click(screen.getByTestId('retry'));
		expect(onRetry).toHaveBeenCalledExactlyOnceWith(0);
	});

	it('falls back from an HLS source the browser cannot play to the next source', async () => {
		// jsdom has neither MediaSource (hls.js) nor native HLS.
		const sources = [
			streamSource({ type: 'hls', provider: 'consumet', proxy_url: '/api/streaming/proxy?hls' }),
			streamSource({ provider: 'library', quality: 'auto' })
		];
		render(CustomPlayer, { resolution: resolveResponse({ sources }) });

		await waitFor(() => expect(playerEl()).toHaveAttribute('data-source-index', '1'));
		expect(videoEl().getAttribute('src')).toBe(sources[1].proxy_url);
	});

	it('says so when no provider found anything, with each outcome', async () => {
		render(CustomPlayer, {
			resolution: resolveResponse({
				sources: [],
				outcomes: [
					{ provider: 'consumet', status: 'error', elapsed_ms: 0, sources: 0, code: 'upstream_unreachable', message: 'connexion refusée' },
					{ provider: 'library', status: 'empty', elapsed_ms: 0, sources: 0 }
				]
			})
		});

		const alert = await screen.findByTestId('player-error');
		expect(playerEl()).toHaveAttribute('data-state', 'error');
		expect(playerEl()).toHaveAttribute('data-error', 'noSources');
		expect(alert).toHaveTextContent('Aucune source n’a été trouvée pour ce titre.');
		expect(alert).toHaveTextContent('Impossible de joindre la source.');
		expect(within(alert).getByTestId('error-details')).toHaveTextContent('upstream_unreachable: connexion refusée');
		expect(alert).toHaveTextContent('aucune source');
		expect(screen.getByTestId('retry')).toHaveTextContent('Réessayer');
	});

	it('reports a failed resolve request with its message', () => {
		render(CustomPlayer, { resolution: null, loadError: { code: 'network_error', message: 'Failed to fetch' } });

		expect(playerEl()).toHaveAttribute('data-state', 'error');
		expect(playerEl()).toHaveAttribute('data-error', 'network_error');
		const alert = screen.getByTestId('player-error');
		expect(alert).toHaveTextContent(
			'La recherche des sources a échoué : Impossible de joindre le serveur (réseau coupé ou serveur arrêté).'
		);
		// The browser's English stays behind the toggle.
		expect(alert.querySelector('.heading')).not.toHaveTextContent('Failed to fetch');
		expect(within(alert).getByTestId('error-details')).toHaveTextContent('Failed to fetch');
	});

	it('offers "Passer l’intro" during the intro marker and jumps to its end', async () => {
		render(CustomPlayer, {
			resolution: resolveResponse({ markers: { intro: { start: 30, end: 95.5 } } })
		});
		const video = videoEl();
		await waitFor(() => expect(video.getAttribute('src')).not.toBeNull());

		setMedia(video, { currentTime: 10 });
		await fireEvent.timeUpdate(video);
		expect(screen.queryByTestId('skip-intro')).toBeNull();

		setMedia(video, { currentTime: 40 });
		await fireEvent.timeUpdate(video);
		await fireEvent.click(screen.getByTestId('skip-intro'));

		expect(video.currentTime).toBe(95.5);
		await fireEvent.timeUpdate(video);
		expect(screen.queryByTestId('skip-intro')).toBeNull();
	});

	it('prompts for the next episode from the outro marker', async () => {
		const onNextEpisode = vi.fn();
		render(CustomPlayer, {
			resolution: resolveResponse({ markers: { outro: { start: 1300, end: 1380 } } }),
			nextEpisode: 'S1 · É3 — Suite',
			onNextEpisode
		});
		const video = videoEl();
		await waitFor(() => expect(video.getAttribute('src')).not.toBeNull());
		setMedia(video, { duration: 1400, currentTime: 1200 });
		await fireEvent(video, new Event('durationchange'));
		await fireEvent.timeUpdate(video);
		expect(screen.queryByTestId('next-episode')).toBeNull();

		setMedia(video, { currentTime: 1301 });
		await fireEvent.timeUpdate(video);
		const next = screen.getByTestId('next-episode');
		expect(next).toHaveTextContent('S1 · É3 — Suite');

		await fireEvent.click(next);
		expect(onNextEpisode).toHaveBeenCalledOnce();
	});

	it('skips the intro with the S key, and only during the intro', async () => {
		const video = await renderLoaded(withIntro());

		await moveTo(video, 10);
		await fireEvent.keyDown(window, { key: 's' });
		expect(video.currentTime).toBe(10);

		await moveTo(video, 40);
		expect(screen.getByTestId('skip-intro')).toHaveAttribute('aria-keyshortcuts', 's');
		await fireEvent.keyDown(window, { key: 's' });
		expect(video.currentTime).toBe(95.5);
	});

	it('skips the intro by itself once auto-skip is on, and lets the viewer go back into it', async () => {
		const video = await renderLoaded(withIntro());
		await fireEvent(video, new Event('playing'));

		// Turned on in the settings menu, and remembered.
		await fireEvent.click(screen.getByRole('button', { name: 'Réglages' }));
		const toggle = screen.getByTestId('auto-skip');
		expect(toggle).toHaveAttribute('aria-checked', 'false');
		await fireEvent.click(toggle);
		expect(toggle).toHaveAttribute('aria-checked', 'true');
		expect(JSON.parse(localStorage.getItem(PREFERENCES_KEY)!).autoSkip).toBe(true);

		await moveTo(video, 31);
		await waitFor(() => expect(video.currentTime).toBe(95.5));

		await moveTo(video, 40);
		expect(video.currentTime).toBe(40);
		expect(screen.getByTestId('skip-intro')).toBeInTheDocument();
	});

	it('offers the engine’s qualities for a library file and reloads at the same place with the chosen height', async () => {
		// jsdom has no MSE: native HLS stands in for hls.js, so the <video> gets the URL the server sees.
		vi.spyOn(HTMLMediaElement.prototype, 'canPlayType').mockImplementation((t) => (t.includes('mpegurl') ? 'maybe' : ''));
		const file = streamSource({ url: '/api/media/7/file?st=1.a', proxy_url: undefined });
		const hls = streamSource({ url: '/api/media/7/hls/master.m3u8?st=1.b', proxy_url: undefined, type: 'hls' });
		const video = await renderLoaded({ resolution: resolveResponse({ sources: [file, hls] }) });
		await fireEvent(video, new Event('playing'));
		await moveTo(video, 42, 600);

		await fireEvent.click(screen.getByRole('button', { name: 'Réglages' }));
		await fireEvent.click(screen.getByTestId('quality-row'));
		const options = screen.getAllByRole('button').filter((b) => b.hasAttribute('data-quality'));
		expect(options.map((b) => b.textContent?.trim())).toEqual(['Originale', '1080p', '720p', '480p']);
		expect(options[0]).toHaveAttribute('aria-pressed', 'true');
		await fireEvent.click(options[3]);

		await waitFor(() => expect(video.getAttribute('src')).toContain('/api/media/7/hls/master.m3u8'));
		expect(video.getAttribute('src')).toContain('max%3D480');
		expect(playerEl()).toHaveAttribute('data-source-index', '1');
		expect(JSON.parse(localStorage.getItem(PREFERENCES_KEY)!).quality).toBe('480');
	});

	it('shows no engine qualities for a remote HLS source the engine does not package', async () => {
		const video = await renderLoaded({ resolution: resolveResponse() });
		await fireEvent(video, new Event('playing'));
		await fireEvent.click(screen.getByRole('button', { name: 'Réglages' }));
		expect(screen.queryByTestId('quality-row')).toBeNull();
	});

	it('at the credits, resolves the next episode early and "Regarder le générique" dismisses the card', async () => {
		const onNextEpisodeSoon = vi.fn();
		const video = await renderLoaded({
			resolution: resolveResponse({ markers: { outro: { start: 1300, end: 1380 } } }),
			nextEpisode: 'S1 · É3 — Suite',
			onNextEpisodeSoon
		});
		await moveTo(video, 1301, 1400);
		expect(screen.getByTestId('next-episode')).toBeInTheDocument();
		expect(onNextEpisodeSoon).toHaveBeenCalledOnce();

		await fireEvent.click(screen.getByRole('button', { name: 'Regarder le générique' }));

		expect(screen.queryByTestId('next-episode')).toBeNull();
		await moveTo(video, 1310);
		expect(screen.queryByTestId('next-episode')).toBeNull();
		expect(onNextEpisodeSoon).toHaveBeenCalledOnce();
	});

	it('goes to the next episode by itself when the video ends', async () => {
		const onNextEpisode = vi.fn();
		render(CustomPlayer, { resolution: resolveResponse(), nextEpisode: 'S1 · É3', onNextEpisode });
		await waitFor(() => expect(videoEl().getAttribute('src')).not.toBeNull());

		await fireEvent.ended(videoEl());

		expect(onNextEpisode).toHaveBeenCalledOnce();
	});

	it('maps the keyboard shortcuts onto the video', async () => {
		render(CustomPlayer, { resolution: resolveResponse() });
		const video = videoEl();
		await waitFor(() => expect(video.getAttribute('src')).not.toBeNull());
		const play = vi.mocked(HTMLMediaElement.prototype.play);
		play.mockClear();
		setMedia(video, { duration: 1000, currentTime: 100 });
		await fireEvent(video, new Event('durationchange'));

		await fireEvent.keyDown(window, { key: 'k' });
		expect(play).toHaveBeenCalledOnce();

		await fireEvent.keyDown(window, { key: 'l' });
		expect(video.currentTime).toBe(110);
		await fireEvent.keyDown(window, { key: 'ArrowLeft' });
		expect(video.currentTime).toBe(105);
		await fireEvent.keyDown(window, { key: '5' });
		expect(video.currentTime).toBe(500);

		const wasMuted = video.muted;
		await fireEvent.keyDown(window, { key: 'm' });
		expect(video.muted).toBe(!wasMuted);

		// Ctrl+L is the browser's, not ours.
		await fireEvent.keyDown(window, { key: 'l', ctrlKey: true });
		expect(video.currentTime).toBe(500);
	});

	it('saves the position while playing, on pause, and with keepalive when leaving', async () => {
		const onSaveProgress = vi.fn();
		const { unmount } = render(CustomPlayer, { resolution: resolveResponse(), onSaveProgress });
		const video = videoEl();
		await waitFor(() => expect(video.getAttribute('src')).not.toBeNull());
		setMedia(video, { duration: 5400, currentTime: 0 });

		// Nothing before playback really starts.
		await fireEvent.timeUpdate(video);
		expect(onSaveProgress).not.toHaveBeenCalled();

		await fireEvent(video, new Event('playing'));
		setMedia(video, { currentTime: 100 });
		await fireEvent.timeUpdate(video);
		expect(onSaveProgress).toHaveBeenLastCalledWith({ position: 100, duration: 5400 }, { keepalive: false });

		setMedia(video, { currentTime: 104 });
		await fireEvent.pause(video);
		expect(playerEl()).toHaveAttribute('data-state', 'paused');
		expect(onSaveProgress).toHaveBeenLastCalledWith({ position: 104, duration: 5400 }, { keepalive: false });

		setMedia(video, { currentTime: 110 });
		unmount();
		expect(onSaveProgress).toHaveBeenLastCalledWith({ position: 110, duration: 5400 }, { keepalive: true });
	});

	it('turns on the subtitles chosen for the previous episode and shows their cues', async () => {
		localStorage.setItem(PREFERENCES_KEY, JSON.stringify({ subtitleLang: 'fr' }));
		const fetchMock = vi
			.fn()
			.mockResolvedValue(new Response('WEBVTT\n\n00:00:05.000 --> 00:00:08.000\nBonjour Neo'));
		vi.stubGlobal('fetch', fetchMock);

		render(CustomPlayer, {
			resolution: resolveResponse({
				subtitles: [
					{ url: 'https://subs.example/en.vtt', lang: 'en', label: 'English', provider: 'opensubtitles' },
					{
						url: 'https://subs.example/fr.vtt',
						proxy_url: '/api/streaming/proxy?fr',
						lang: 'fr',
						label: 'Français',
						provider: 'opensubtitles'
					}
				]
			})
		});
		await waitFor(() => expect(fetchMock).toHaveBeenCalled());
		expect(fetchMock.mock.calls[0][0]).toBe('/api/streaming/proxy?fr');

		const video = videoEl();
		setMedia(video, { currentTime: 6 });
		await fireEvent.timeUpdate(video);
		expect(await screen.findByText('Bonjour Neo')).toBeInTheDocument();

		// "C" turns them off.
		await fireEvent.keyDown(window, { key: 'c' });
		expect(screen.queryByText('Bonjour Neo')).toBeNull();
		expect(JSON.parse(localStorage.getItem(PREFERENCES_KEY)!).subtitleLang).toBe('off');
	});
});

describe('CustomPlayer effects', () => {
	beforeEach(() => {
		vi.spyOn(HTMLMediaElement.prototype, 'play').mockResolvedValue(undefined);
		vi.spyOn(HTMLMediaElement.prototype, 'load').mockImplementation(() => {});
	});

	it('keeps playing the same source when the volume changes (no re-attach)', async () => {
		render(CustomPlayer, { resolution: resolveResponse() });
		const video = playerEl().querySelector('video')!;
		await waitFor(() => expect(video.getAttribute('src')).not.toBeNull());
		const src = video.getAttribute('src');
		const load = vi.mocked(HTMLMediaElement.prototype.load);
		load.mockClear();

		await fireEvent.keyDown(window, { key: 'ArrowDown' });
		await fireEvent(video, new Event('volumechange'));
		await fireEvent.keyDown(window, { key: 'm' });
		await fireEvent(video, new Event('volumechange'));

		expect(video.getAttribute('src')).toBe(src);
		expect(load).not.toHaveBeenCalled();
	});
});
