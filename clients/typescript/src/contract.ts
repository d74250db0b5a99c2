// Compile-time checks that the generated types say what the docs promise a frontend team.
import type { components, operations, paths } from "./schema";

type Goal = components["schemas"]["GoalPublic"];
type Problem = components["schemas"]["Problem"];
type EventPage = paths["/v1/events"]["get"]["responses"][200]["content"]["application/json"];
type NewWebhook = operations["createWebhook"]["requestBody"]["content"]["application/json"];
type Created = operations["createWebhook"]["responses"][201]["content"]["application/json"];
type ScorecardHeaders = NonNullable<operations["getRepScorecard"]["parameters"]["header"]>;

export const hook: NewWebhook = { url: "https://bi.example.com/hook", event_types: ["session.held"] };
export const revalidate: ScorecardHeaders = { "If-None-Match": '"abc"' };

// A write of one record takes the ETag of its last read as If-Match, and may answer 412.
type SessionWriteHeaders = NonNullable<operations["updateSession"]["parameters"]["header"]>;
type StaleWrite = operations["updateSession"]["responses"][412]["content"]["application/problem+json"];
export const conditional: SessionWriteHeaders = { "If-Match": '"3"' };
export function stale(problem: StaleWrite): string {
  return problem.code;
}

export function describe(goal: Goal): string {
  return `${goal.id} ${goal.status}`;
}

export function nextCursor(page: EventPage): string | null | undefined {
  for (const event of page.items) {
    const kind: "goal.created" | "goal.status_changed" | "session.held" | "session.canceled"
      | "action_item.completed" | "sync.completed" = event.type;
    void kind;
  }
  return page.next_cursor;
}

export function secretOf(created: Created): string {
  return created.secret;
}

export function explain(problem: Problem): string {
  return `${problem.status} ${problem.code}: ${problem.detail ?? problem.title}`;
}

// Every operation documents its error statuses with the Problem schema, extension members included.
type RepNotFound = operations["getRep"]["responses"][404]["content"]["application/problem+json"];
type GoalRefused = operations["createGoal"]["responses"][409]["content"]["application/problem+json"];

export function missingRep(problem: RepNotFound): string {
  return problem.code;
}

export function blockingGoals(problem: GoalRefused): string[] {
  return (problem.active_goals ?? []).map((goal) => `${goal.id} ${goal.period}`);
}

// Every list but the events feed takes `sort`, typed from the enum of its fields.
type DeliverySort = NonNullable<operations["listWebhookDeliveries"]["parameters"]["query"]>["sort"];
export const oldestFirst: DeliverySort = "created_at";
// @ts-expect-error: not a sort of the delivery log
export const bySecret: DeliverySort = "secret";
