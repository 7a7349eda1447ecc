// What the API answers about named lists, as zod schemas: the services return these types, the
// OpenAPI document publishes them and the console imports them.
import { z } from "zod";
import { pageOf } from "../../shared/page-view";

const moment = z.iso.datetime();

export const listModes = ["replace", "add", "remove"] as const;
export type ListMode = (typeof listModes)[number];

export const listSchema = z.strictObject({
  name: z.string(),
  description: z.string(),
  /** 1 when created; each change of its entries adds one. */
  version: z.number().int(),
  size: z.number().int(),
  createdAt: moment,
  createdBy: z.string(),
  updatedAt: moment,
  updatedBy: z.string(),
  /** Rules whose current version, or running shadow version, names the list. */
  usedBy: z.array(z.string()),
});
export type ListView = z.infer<typeof listSchema>;

export const listChangeSchema = z.strictObject({
  version: z.number().int(),
  mode: z.enum(["create", ...listModes]),
  added: z.number().int(),
  removed: z.number().int(),
  /** Entries after the change. */
  size: z.number().int(),
  actor: z.string(),
  at: moment,
  /** Up to 100 of the values added and removed. */
  sample: z.strictObject({ added: z.array(z.string()), removed: z.array(z.string()) }),
});
export type ListChange = z.infer<typeof listChangeSchema>;

export const listDetailSchema = listSchema.extend({ changes: z.array(listChangeSchema) });
export type ListDetail = z.infer<typeof listDetailSchema>;

export const listPageSchema = pageOf(listSchema);
export type ListPage = z.infer<typeof listPageSchema>;

export const listEntryPageSchema = pageOf(z.string());
export type ListEntryPage = z.infer<typeof listEntryPageSchema>;

/** POST /v1/lists/:name/entries. */
export const listChangeResultSchema = z.strictObject({ list: listSchema, change: listChangeSchema });
export type ListChangeResult = z.infer<typeof listChangeResultSchema>;
