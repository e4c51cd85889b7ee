import { describe, expect, it } from 'vitest';
import { keyToCommand, LONG_SEEK, SHORT_SEEK } from './keyboard';

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

	it('still works while the seek or volume slider has focus', () => {
		expect(keyToCommand({ key: 'ArrowRight', targetTag: 'INPUT', targetType: 'range' })).toEqual({
			kind: 'seek-by',
			seconds: SHORT_SEEK
		});
	});
});
