// The OpenAPI 3.1 document served at /api/openapi.json, turned into what the /api-docs page
// shows. A small renderer of our own rather than Swagger UI, Redoc or Scalar: those are large
// bundles, the last two need Node 22, and this page must work offline on a self-hosted server.
// It covers what utoipa emits for this API: $ref, allOf, oneOf, enums, maps, nullable types.

export interface Schema {
	$ref?: string;
	type?: string | string[];
	format?: string;
	description?: string;
	enum?: unknown[];
	items?: Schema;
	properties?: Record<string, Schema>;
	required?: string[];
	additionalProperties?: Schema | boolean;
	allOf?: Schema[];
	oneOf?: Schema[];
	anyOf?: Schema[];
	minimum?: number;
	maximum?: number;
	example?: unknown;
}

export interface Parameter {
	name: string;
	in: 'path' | 'query' | 'header' | 'cookie';
	required?: boolean;
	description?: string;
	schema?: Schema;
	example?: unknown;
}

export interface MediaTypeObject {
	schema?: Schema;
}

export interface ResponseObject {
	description?: string;
	content?: Record<string, MediaTypeObject>;
	headers?: Record<string, { description?: string; schema?: Schema }>;
}

export interface Operation {
	tags?: string[];
	summary?: string;
	description?: string;
	operationId?: string;
	parameters?: Parameter[];
	requestBody?: { description?: string; required?: boolean; content?: Record<string, MediaTypeObject> };
	responses?: Record<string, ResponseObject>;
	security?: Record<string, string[]>[];
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type PathItem = Partial<Record<HttpMethod, Operation>>;

export interface OpenApiDocument {
	openapi: string;
	info: { title: string; version: string; description?: string };
	tags?: { name: string; description?: string }[];
	paths: Record<string, PathItem>;
	components?: { schemas?: Record<string, Schema> };
}

/** A piece of a rendered type: plain text, or the name of a schema to link to. */
export interface TypePart {
	text: string;
	ref?: string;
}

export interface ParameterView {
	name: string;
	location: Parameter['in'];
	required: boolean;
	type: TypePart[];
	constraint: string;
	description: string;
}

export interface ContentView {
	mediaType: string;
	/** Empty when the body has no schema (binary: video, images). */
	type: TypePart[];
}

export interface ResponseView {
	status: string;
	description: string;
	content: ContentView[];
	headers: string[];
}

export interface OperationView {
	/** Unique, usable as an HTML id. */
	anchor: string;
	method: HttpMethod;
	path: string;
	summary: string;
	description: string;
	secured: boolean;
	parameters: ParameterView[];
	requestBody: ContentView[];
	responses: ResponseView[];
}

export interface TagGroup {
	name: string;
	description: string;
	operations: OperationView[];
}

export interface PropertyView {
	name: string;
	type: TypePart[];
	required: boolean;
	constraint: string;
	description: string;
}

export interface SchemaView {
	name: string;
	description: string;
	/** An enum's values; empty for objects. */
	values: string[];
	properties: PropertyView[];
	/** Neither an object nor an enum (a map, an alias): its type. */
	type: TypePart[];
}

const REF_PREFIX = '#/components/schemas/';

export function refName(ref: string): string {
	return ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : ref;
}

function joined(groups: TypePart[][], separator: string): TypePart[] {
	return groups.flatMap((group, i) => (i === 0 ? group : [{ text: separator }, ...group]));
}

function baseType(type: string, schema: Schema): TypePart[] {
	switch (type) {
		case 'array':
			return [...typeParts(schema.items), { text: '[]' }];
		case 'object':
			if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
				return [{ text: '{ [key: string]: ' }, ...typeParts(schema.additionalProperties), { text: ' }' }];
			}
			return [{ text: 'object' }];
		case 'string':
			return [{ text: schema.format ? `string (${schema.format})` : 'string' }];
		default:
			return [{ text: type }];
	}
}

/** A schema as a short TypeScript-like type: `SourceDto[]`, `integer | null`, `"movie" | "tv"`. */
export function typeParts(schema: Schema | undefined): TypePart[] {
	if (!schema) return [{ text: 'any' }];
	if (schema.$ref) return [{ text: refName(schema.$ref), ref: refName(schema.$ref) }];
	const union = schema.oneOf ?? schema.anyOf;
	if (union) return joined(union.map(typeParts), ' | ');
	if (schema.allOf) return joined(schema.allOf.map(typeParts), ' & ');
	if (schema.enum) return [{ text: schema.enum.map((v) => JSON.stringify(v)).join(' | ') }];
	if (Array.isArray(schema.type)) {
		return joined(
			schema.type.map((t) => baseType(t, schema)),
			' | '
		);
	}
	if (schema.type) return baseType(schema.type, schema);
	if (schema.properties) return [{ text: 'object' }];
	return [{ text: 'any' }];
}

/** `≥ 1`, `≤ 10`, `1 … 10`, or nothing. */
export function constraintText(schema: Schema | undefined): string {
	if (!schema) return '';
	const { minimum: min, maximum: max } = schema;
	if (min != null && max != null) return `${min} … ${max}`;
	if (min != null) return `≥ ${min}`;
	if (max != null) return `≤ ${max}`;
	return '';
}

function contentViews(content: Record<string, MediaTypeObject> | undefined): ContentView[] {
	return Object.entries(content ?? {}).map(([mediaType, media]) => ({
		mediaType,
		type: media.schema ? typeParts(media.schema) : []
	}));
}

function operationView(path: string, method: HttpMethod, op: Operation): OperationView {
	return {
		anchor: `op-${op.operationId ?? `${method}-${path}`}`.replace(/[^A-Za-z0-9_-]+/g, '-'),
		method,
		path,
		summary: op.summary ?? '',
		description: op.description ?? '',
		secured: (op.security ?? []).some((requirement) => Object.keys(requirement).length > 0),
		parameters: (op.parameters ?? []).map((p) => ({
			name: p.name,
			location: p.in,
			required: p.required ?? false,
			type: typeParts(p.schema),
			constraint: constraintText(p.schema),
			description: p.description ?? ''
		})),
		requestBody: contentViews(op.requestBody?.content),
		responses: Object.entries(op.responses ?? {})
			.sort(([a], [b]) => a.localeCompare(b))
			.map(([status, response]) => ({
				status,
				description: response.description ?? '',
				content: contentViews(response.content),
				headers: Object.keys(response.headers ?? {})
			}))
	};
}

/** Operations grouped by their first tag, in the order of the document's `tags`. */
export function groupOperations(doc: OpenApiDocument): TagGroup[] {
	const groups = new Map<string, TagGroup>();
	for (const tag of doc.tags ?? []) {
		groups.set(tag.name, { name: tag.name, description: tag.description ?? '', operations: [] });
	}
	for (const [path, item] of Object.entries(doc.paths ?? {})) {
		for (const method of HTTP_METHODS) {
			const op = item[method];
			if (!op) continue;
			const tag = op.tags?.[0] ?? 'default';
			if (!groups.has(tag)) groups.set(tag, { name: tag, description: '', operations: [] });
			groups.get(tag)!.operations.push(operationView(path, method, op));
		}
	}
	return [...groups.values()].filter((group) => group.operations.length > 0);
}

function resolve(doc: OpenApiDocument, schema: Schema): Schema {
	const name = schema.$ref ? refName(schema.$ref) : null;
	return name ? (doc.components?.schemas?.[name] ?? {}) : schema;
}

/** Properties and required names through `$ref` and `allOf` (serde's `flatten`). */
function collectProperties(
	doc: OpenApiDocument,
	schema: Schema,
	into: { properties: Record<string, Schema>; required: Set<string> },
	depth = 0
): void {
	if (depth > 8) return;
	const s = resolve(doc, schema);
	for (const part of s.allOf ?? []) collectProperties(doc, part, into, depth + 1);
	Object.assign(into.properties, s.properties ?? {});
	for (const name of s.required ?? []) into.required.add(name);
}

export function schemaViews(doc: OpenApiDocument): SchemaView[] {
	return Object.entries(doc.components?.schemas ?? {})
		.sort(([a], [b]) => a.localeCompare(b))
		.map(([name, schema]) => {
			const view: SchemaView = {
				name,
				description: schema.description ?? '',
				values: (schema.enum ?? []).map(String),
				properties: [],
				type: []
			};
			if (schema.enum) return view;
			const collected = { properties: {} as Record<string, Schema>, required: new Set<string>() };
			collectProperties(doc, schema, collected);
			view.properties = Object.entries(collected.properties).map(([prop, s]) => ({
				name: prop,
				type: typeParts(s),
				required: collected.required.has(prop),
				constraint: constraintText(s),
				description: s.description ?? ''
			}));
			if (view.properties.length === 0) view.type = typeParts(schema);
			return view;
		});
}

/** A text with `code` spans, in pieces the page renders without `{@html}`. */
export function inlineCode(text: string): { text: string; code: boolean }[] {
	return text
		.split('`')
		.map((piece, i) => ({ text: piece, code: i % 2 === 1 }))
		.filter((piece) => piece.text !== '');
}

/** Paragraphs: blank lines separate them, single line breaks are wrapping. */
export function paragraphs(text: string): string[] {
	return text
		.split(/\n\s*\n/)
		.map((p) => p.replace(/\s*\n\s*/g, ' ').trim())
		.filter(Boolean);
}

/** A curl command for an operation, with the token when the route needs it. */
export function curlCommand(op: OperationView, origin: string): string {
	const parts = ['curl'];
	if (op.method !== 'get') parts.push(`-X ${op.method.toUpperCase()}`);
	if (op.secured) parts.push(`-H "Authorization: Bearer $SOKOUL_API_TOKEN"`);
	if (op.requestBody.some((b) => b.mediaType === 'application/json')) {
		parts.push(`-H 'Content-Type: application/json' -d '{…}'`);
	}
	parts.push(`'${origin}${op.path}'`);
	return parts.join(' ');
}
