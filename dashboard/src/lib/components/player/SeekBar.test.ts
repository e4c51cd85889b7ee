import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { parseThumbnails } from '$lib/player/thumbnails';
import SeekBar from './SeekBar.svelte';

const cues = parseThumbnails(
	`WEBVTT

00:00:00.000 --> 00:00:10.000
thumbnails/0.jpg?st=1.a#xywh=0,0,320,180

00:00:10.000 --> 00:00:20.000
thumbnails/0.jpg?st=1.a#xywh=320,0,320,180
`,
	'/api/media/4/thumbnails.vtt?st=1.a'
);

function setup(thumbnails = cues) {
	render(SeekBar, { currentTime: 0, duration: 20, buffered: [], label: 'Seek', thumbnails, onSeek: () => {} });
	const input = screen.getByRole('slider');
	// jsdom lays nothing out: the bar is 200 px wide from x = 100.
	input.getBoundingClientRect = () => ({ left: 100, width: 200, top: 0, height: 24 }) as DOMRect;
	return input;
}

describe('SeekBar thumbnails', () => {
	it('shows the tile and the time under the mouse, and hides them when it leaves', async () => {
		const input = setup();
		expect(screen.queryByTestId('seek-preview')).toBeNull();
		// 75 % of 20 s: 15 s, the second tile.
		await fireEvent.pointerMove(input, { clientX: 250, pointerType: 'mouse' });
		expect(screen.getByTestId('seek-preview')).toHaveTextContent('0:15');
		const tile = screen.getByTestId('seek-thumbnail');
		expect(tile.style.backgroundImage).toContain('/api/media/4/thumbnails/0.jpg?st=1.a');
		expect(tile.style.backgroundPosition).toBe('-320px 0px');
		expect(tile.style.transform).toBe('scale(0.5)');
		await fireEvent.pointerLeave(input);
		expect(screen.queryByTestId('seek-preview')).toBeNull();
	});

	it('shows the tile of the drag position, as touch drags do', async () => {
		const input = setup();
		await fireEvent.input(input, { target: { value: '4' } });
		expect(screen.getByTestId('seek-preview')).toHaveTextContent('0:04');
		expect(screen.getByTestId('seek-thumbnail').style.backgroundPosition).toBe('0px 0px');
	});

	it('shows only the time where there is no thumbnail', async () => {
		const input = setup([]);
		await fireEvent.pointerMove(input, { clientX: 150, pointerType: 'mouse' });
		expect(screen.getByTestId('seek-preview')).toHaveTextContent('0:05');
		expect(screen.queryByTestId('seek-thumbnail')).toBeNull();
	});
});
