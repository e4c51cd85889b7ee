import { describe, expect, it, vi } from 'vitest';
import { ProgressSaver } from './progress-saver';

function setup(interval = 10_000) {
	const save = vi.fn();
	const saver = new ProgressSaver(save, interval);
	return { save, saver };
}

describe('ProgressSaver', () => {
	it('saves nothing before it is armed (the position is 0 until the resume point is reached)', () => {
		const { save, saver } = setup();
		saver.tick(0, 5400, 0);
		saver.flush(0, 5400, 1, true);
		expect(save).not.toHaveBeenCalled();
	});

	it('saves at most once per interval while playing', () => {
		const { save, saver } = setup();
		saver.arm();

		saver.tick(100, 5400, 0);
		saver.tick(104, 5400, 4_000);
		saver.tick(109, 5400, 9_999);
		saver.tick(110.04, 5400, 10_000);

		expect(save.mock.calls).toEqual([
			[{ position: 100, duration: 5400 }, { keepalive: false }],
			[{ position: 110, duration: 5400 }, { keepalive: false }]
		]);
	});

	it('flushes at once on pause or leave, with keepalive when leaving', () => {
		const { save, saver } = setup();
		saver.arm();
		saver.tick(100, 5400, 0);

		saver.flush(103.5, 5400, 1_000, true);

		expect(save).toHaveBeenLastCalledWith({ position: 103.5, duration: 5400 }, { keepalive: true });
	});

	it('skips a save when the position has not moved', () => {
		const { save, saver } = setup();
		saver.arm();
		saver.flush(50, 5400, 0);
		saver.flush(50.4, 5400, 20_000);
		expect(save).toHaveBeenCalledTimes(1);
	});

	it('does not save a live stream or an unknown duration', () => {
		const { save, saver } = setup();
		saver.arm();
		saver.flush(50, Infinity, 0);
		saver.flush(50, NaN, 0);
		expect(save).not.toHaveBeenCalled();
	});
});
