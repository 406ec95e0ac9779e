// A small signing client, type-checked against types generated from the live OpenAPI document
// (tests/contract/test_generated_clients.py runs openapi-typescript, then `tsc --noEmit`).
// It is what a frontend developer would write with only /docs and the generated `api.d.ts`.
import type { components, operations } from "./api";

type SignatureCreate = components["schemas"]["SignatureCreate"];
type SignatureAccepted = components["schemas"]["SignatureAccepted"];
type CountPublic = components["schemas"]["CountPublic"];
type Problem = components["schemas"]["Problem"];
type FieldError = components["schemas"]["FieldError"];
type Language = components["schemas"]["Language"];
type Slug = operations["signPetition"]["parameters"]["path"]["slug"];

export type SignOutcome =
  | { kind: "accepted"; body: SignatureAccepted }
  | { kind: "invalid"; fieldErrors: Record<string, string>; codes: string[] }
  | { kind: "retry-later"; seconds: number; problem: Problem }
  | { kind: "failed"; problem: Problem };

export class SigningClient {
  constructor(
    private readonly baseUrl: string,
    private readonly language: Language = "en",
  ) {}

  async count(slug: Slug): Promise<CountPublic> {
    const response = await fetch(`${this.baseUrl}/v1/petitions/${encodeURIComponent(slug)}/count`);
    if (!response.ok) {
      throw new Error(((await response.json()) as Problem).detail);
    }
    return (await response.json()) as CountPublic;
  }

  /** One attempt's key is kept for its retries, so a retried request never signs twice. */
  async sign(slug: Slug, signature: SignatureCreate, idempotencyKey: string): Promise<SignOutcome> {
    const response = await fetch(
      `${this.baseUrl}/v1/petitions/${encodeURIComponent(slug)}/signatures`,
      {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Accept-Language": this.language,
          "Idempotency-Key": idempotencyKey,
        },
        body: JSON.stringify(signature),
      },
    );
    if (response.status === 202) {
      return { kind: "accepted", body: (await response.json()) as SignatureAccepted };
    }
    const problem = (await response.json()) as Problem;
    if (problem.type === "urn:advocacy:problem:validation-error") {
      const fieldErrors: Record<string, string> = {};
      const errors: FieldError[] = problem.errors ?? [];
      for (const error of errors) {
        fieldErrors[error.field] ??= error.message;
      }
      return { kind: "invalid", fieldErrors, codes: errors.map((error) => error.code) };
    }
    if (
      problem.type === "urn:advocacy:problem:rate-limited" ||
      problem.type === "urn:advocacy:problem:service-unavailable" ||
      problem.type === "urn:advocacy:problem:conflict"
    ) {
      return {
        kind: "retry-later",
        seconds: Number(response.headers.get("Retry-After") ?? "1"),
        problem,
      };
    }
    return { kind: "failed", problem };
  }
}

// Only the required fields: those with defaults (country, locale, display_publicly, ...) must
// be optional in the generated request type, or this does not compile.
export const minimal: SignatureCreate = {
  first_name: "Ana",
  last_name: "García",
  email: "ana@example.org",
  postal_code: "32801",
};

export const full: SignatureCreate = {
  ...minimal,
  country: "US",
  comment: "No child should be arrested at school.",
  display_publicly: true,
  contact_opt_in: false,
  locale: "es",
};
