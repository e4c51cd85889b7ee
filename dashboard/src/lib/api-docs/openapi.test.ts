import { describe, expect, it } from 'vitest';
// The server's real document: `cargo test` writes it next to the ts-rs types.
import served from '$lib/api/generated/openapi.json';
import {
	constraintText,
	curlCommand,
	groupOperations,
	HTTP_METHODS,
	inlineCode,
	paragraphs,
	schemaViews,
	typeParts,
	type OpenApiDocument,
	type TypePart
} from './openapi';

const doc = served as unknown as OpenApiDocument;

const text = (parts: TypePart[]) => parts.map((p) => p.text).join('');

describe('groupOperations', () => {
	const groups = groupOperations(doc);
	const all = groups.flatMap((g) => g.operations);

	it('shows every operation of the document once, grouped in the order of its tags', () => {
		const documented = Object.values(doc.paths).flatMap((item) =>
			HTTP_METHODS.filter((m) => item[m])
		).length;
		expect(all).toHaveLength(documented);
		expect(new Set(all.map((op) => op.anchor)).size).toBe(all.length);
		expect(groups.map((g) => g.name)).toEqual(
			(doc.tags ?? []).map((tag) => tag.name).filter((name) => groups.some((g) => g.name === name))
		);
		expect(groups[0].name).toBe('resolve');
	});

	it('says which routes need the token: /api but not the signed proxy nor health checks', () => {
		const find = (method: string, path: string) =>
			all.find((op) => op.method === method && op.path === path)!;
		expect(find('get', '/api/streaming/resolve/{media_type}/{tmdb_id}').secured).toBe(true);
		expect(find('put', '/api/progress/{media_type}/{tmdb_id}').secured).toBe(true);
		expect(find('get', '/api/streaming/proxy').secured).toBe(false);
		expect(find('get', '/healthz').secured).toBe(false);
	});

	it('lists parameters with their type and constraints, and responses by status', () => {
		const resolve = all.find((op) => op.path === '/api/streaming/resolve/{media_type}/{tmdb_id}')!;
		const byName = Object.fromEntries(resolve.parameters.map((p) => [p.name, p]));
		expect(byName.media_type).toMatchObject({ location: 'path', required: true });
		expect(byName.media_type.type).toEqual([{ text: 'MediaType', ref: 'MediaType' }]);
		expect(byName.tmdb_id.constraint).toBe('≥ 1');
		expect(byName.episode).toMatchObject({ location: 'query', required: false, constraint: '≥ 1' });
		expect(resolve.responses.map((r) => r.status)).toEqual(['200', '400', '401', '414', '429', '500']);
		expect(resolve.responses[0].content).toEqual([
			{ mediaType: 'application/json', type: [{ text: 'ResolveResponse', ref: 'ResolveResponse' }] }
		]);
	});

	it('keeps binary bodies without a type', () => {
		const file = all.find((op) => op.path === '/api/media/{file_id}/file')!;
		expect(file.responses.find((r) => r.status === '200')!.content).toEqual([
			{ mediaType: 'video/*', type: [] }
		]);
	});
});

describe('typeParts', () => {
	it('writes OpenAPI types the way TypeScript would', () => {
		expect(text(typeParts({ type: ['integer', 'null'], format: 'int32' }))).toBe('integer | null');
		expect(text(typeParts({ type: 'array', items: { $ref: '#/components/schemas/SourceDto' } }))).toBe(
			'SourceDto[]'
		);
		expect(
			text(typeParts({ type: 'object', additionalProperties: { type: 'string' } }))
		).toBe('{ [key: string]: string }');
		expect(text(typeParts({ type: 'string', enum: ['movie', 'tv'] }))).toBe('"movie" | "tv"');
		expect(text(typeParts({ type: 'string', format: 'date-time' }))).toBe('string (date-time)');
		expect(text(typeParts({ oneOf: [{ type: 'null' }, { $ref: '#/components/schemas/Markers' }] }))).toBe(
			'null | Markers'
		);
		expect(text(typeParts(undefined))).toBe('any');
	});

	it('links schema names', () => {
		expect(typeParts({ $ref: '#/components/schemas/Range' })).toEqual([{ text: 'Range', ref: 'Range' }]);
	});

	it('states bounds', () => {
		expect(constraintText({ minimum: 0 })).toBe('≥ 0');
		expect(constraintText({ minimum: 1, maximum: 10 })).toBe('1 … 10');
		expect(constraintText({})).toBe('');
	});
});

describe('schemaViews', () => {
	const views = Object.fromEntries(schemaViews(doc).map((v) => [v.name, v]));

	it('shows every schema of the document', () => {
		expect(Object.keys(views).sort()).toEqual(Object.keys(doc.components?.schemas ?? {}).sort());
	});

	it('lists an enum by its values', () => {
		expect(views.MediaType.values).toEqual(['movie', 'tv']);
		expect(views.StreamKind.values).toEqual(['hls', 'mp4']);
	});

	it('lists the properties of an object, required ones marked', () => {
		const props = Object.fromEntries(views.SourceDto.properties.map((p) => [p.name, p]));
		expect(Object.keys(props).sort()).toEqual(
			[
				'expires_at',
				'headers',
				'label',
				'markers',
				'mime',
				'provider',
				'proxy_url',
				'quality',
				'thumbnails',
				'type',
				'url'
			].sort()
		);
		expect(props.url.required).toBe(true);
		expect(props.proxy_url.required).toBe(false);
		expect(props.markers.required).toBe(false);
		expect(props.thumbnails.required).toBe(false);
		expect(props.mime.required).toBe(false);
		expect(props.type.type).toEqual([{ text: 'StreamKind', ref: 'StreamKind' }]);
	});

	it('merges the parts of a flattened struct (allOf)', () => {
		const names = views.ItemDetail.properties.map((p) => p.name);
		expect(names).toEqual(expect.arrayContaining(['media_type', 'tmdb_id', 'title', 'duration', 'seasons']));
		expect(views.ItemDetail.properties.find((p) => p.name === 'title')!.required).toBe(true);
	});
});

describe('text helpers', () => {
	it('splits `code` spans out of a description', () => {
		expect(inlineCode('`provider_disabled`: not configured')).toEqual([
			{ text: 'provider_disabled', code: true },
			{ text: ': not configured', code: false }
		]);
	});

	it('keeps blank lines as paragraph breaks and unwraps the rest', () => {
		expect(paragraphs('one\ntwo\n\nthree')).toEqual(['one two', 'three']);
	});

	it('writes a curl command with the token only where it is needed', () => {
		const all = groupOperations(doc).flatMap((g) => g.operations);
		const put = all.find((op) => op.method === 'put')!;
		expect(curlCommand(put, 'http://127.0.0.1:8080')).toBe(
			`curl -X PUT -H "Authorization: Bearer $SOKOUL_API_TOKEN" -H 'Content-Type: application/json' -d '{…}' 'http://127.0.0.1:8080/api/progress/{media_type}/{tmdb_id}'`
		);
		const health = all.find((op) => op.path === '/healthz')!;
		expect(curlCommand(health, 'http://h')).toBe(`curl 'http://h/healthz'`);
	});
});
