import { describe, expect, it } from 'vitest';
import { keyToCommand, LONG_SEEK, SHORT_SEEK, stepRate } from './keyboard';

describe('keyToCommand', () => {
	it.each([
		[' ', { kind: 'toggle-play' }],
		['k', { kind: 'toggle-play' }],
		['K', { kind: 'toggle-play' }],
		['j', { kind: 'seek-by', seconds: -LONG_SEEK }],
		['l', { kind: 'seek-by', seconds: LONG_SEEK }],
		['ArrowLeft', { kind: 'seek-by', seconds: -SHORT_SEEK }],
		['ArrowRight', { kind: 'seek-by', seconds: SHORT_SEEK }],
		['ArrowUp', { kind: 'volume-by', delta: 0.05 }],
		['ArrowDown', { kind: 'volume-by', delta: -0.05 }],
		['f', { kind: 'toggle-fullscreen' }],
		['m', { kind: 'toggle-mute' }],
		['c', { kind: 'toggle-subtitles' }],
		['s', { kind: 'skip-segment' }],
		['S', { kind: 'skip-segment' }],
		['0', { kind: 'seek-to-fraction', fraction: 0 }],
		['5', { kind: 'seek-to-fraction', fraction: 0.5 }],
		['9', { kind: 'seek-to-fraction', fraction: 0.9 }]
	])('maps %j', (key, command) => {
		expect(keyToCommand({ key })).toEqual(command);
	});

	it('ignores unbound keys', () => {
		expect(keyToCommand({ key: 'x' })).toBeNull();
		expect(keyToCommand({ key: 'Enter' })).toBeNull();
	});

	it('leaves browser shortcuts alone (Ctrl+F, Cmd+L, Alt+←)', () => {
		expect(keyToCommand({ key: 'f', ctrlKey: true })).toBeNull();
		expect(keyToCommand({ key: 'l', metaKey: true })).toBeNull();
		expect(keyToCommand({ key: 'ArrowLeft', altKey: true })).toBeNull();
	});

	it('does not steal keys from form fields', () => {
		expect(keyToCommand({ key: 'k', targetTag: 'INPUT' })).toBeNull();
		expect(keyToCommand({ key: 'k', targetTag: 'INPUT', targetType: 'search' })).toBeNull();
		expect(keyToCommand({ key: 'k', targetTag: 'TEXTAREA' })).toBeNull();
		expect(keyToCommand({ key: ' ', targetTag: 'SELECT' })).toBeNull();
		expect(keyToCommand({ key: 'm', targetEditable: true })).toBeNull();
		expect(keyToCommand({ key: 'm', targetTag: 'BUTTON' })).toEqual({ kind: 'toggle-mute' });
	});

	it('still seeks with the arrows while the seek bar has focus', () => {
		expect(keyToCommand({ key: 'ArrowRight', targetTag: 'INPUT', targetType: 'range' })).toEqual({
			kind: 'seek-by',
			seconds: SHORT_SEEK
		});
	});

	it('leaves the arrows to the volume slider, and its other keys to the player', () => {
		const volume = { targetTag: 'INPUT', targetType: 'range', targetOwnsArrows: true };
		for (const key of ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown']) {
			expect(keyToCommand({ key, ...volume })).toBeNull();
		}
		expect(keyToCommand({ key: 'k', ...volume })).toEqual({ kind: 'toggle-play' });
	});

	it('lets Space and Enter press a focused button instead of toggling playback', () => {
		expect(keyToCommand({ key: ' ', targetTag: 'BUTTON', targetPressable: true })).toBeNull();
		expect(keyToCommand({ key: 'Enter', targetTag: 'A', targetPressable: true })).toBeNull();
		expect(keyToCommand({ key: 'k', targetTag: 'BUTTON', targetPressable: true })).toEqual({ kind: 'toggle-play' });
		expect(keyToCommand({ key: ' ', targetTag: 'BODY' })).toEqual({ kind: 'toggle-play' });
	});

	it('maps ? to the shortcuts overlay and < > to the speed', () => {
		expect(keyToCommand({ key: '?' })).toEqual({ kind: 'show-help' });
		expect(keyToCommand({ key: '>' })).toEqual({ kind: 'rate-step', direction: 1 });
		expect(keyToCommand({ key: '<' })).toEqual({ kind: 'rate-step', direction: -1 });
	});
});

describe('stepRate', () => {
	const rates = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
	it('moves one step and stops at both ends', () => {
		expect(stepRate(rates, 1, 1)).toBe(1.25);
		expect(stepRate(rates, 1, -1)).toBe(0.75);
		expect(stepRate(rates, 2, 1)).toBe(2);
		expect(stepRate(rates, 0.5, -1)).toBe(0.5);
	});
	it('moves from a rate between two steps to the neighbour in that direction', () => {
		expect(stepRate(rates, 1.1, 1)).toBe(1.25);
		expect(stepRate(rates, 1.1, -1)).toBe(1);
	});
});
