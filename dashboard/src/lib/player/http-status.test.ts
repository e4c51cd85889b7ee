import { describe, expect, it, vi } from 'vitest';
import { httpErrorStatus } from './http-status';

const answer = (status: number) => vi.fn(async () => new Response(status === 206 ? 'x' : null, { status }));

describe('httpErrorStatus', () => {
	it('reports an error status, asking for one byte', async () => {
		const fetchImpl = answer(403);
		expect(await httpErrorStatus('/api/media/1/file', fetchImpl)).toBe(403);
		expect(fetchImpl).toHaveBeenCalledWith('/api/media/1/file', expect.objectContaining({ headers: { Range: 'bytes=0-0' } }));
	});

	it('says nothing when the file answers (the failure was the codec) or cannot be asked', async () => {
		expect(await httpErrorStatus('/f', answer(206))).toBeUndefined();
		expect(await httpErrorStatus('/f', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))).toBeUndefined();
		const never = vi.fn();
		expect(await httpErrorStatus('blob:http://x/1', never)).toBeUndefined();
		expect(never).not.toHaveBeenCalled();
	});
});
