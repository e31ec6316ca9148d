import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { successAnswers } from "../../src/http/successAnswers.js"

class Thing extends Schema.Class<Thing>("Thing")({ id: Schema.String }) {}

const answer = (value: unknown, answers = successAnswers(Thing as Schema.Schema<unknown, unknown>, 200)) =>
  Effect.runSync(answers.answer(value))

const text = (response: ReturnType<typeof answer>) =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : undefined

describe("successAnswers: an endpoint's success answers, made once per shared value", () => {
  it("a shared value (a Schema class instance) gets the answer made for it before; another value its own", () => {
    const answers = successAnswers(Thing as Schema.Schema<unknown, unknown>, 200, { "cache-control": "no-store" })
    const a = new Thing({ id: "a" })
    const first = answer(a, answers)
    expect(answer(a, answers)).toBe(first)
    expect(text(first)).toBe('{"id":"a"}')
    expect(first.headers).toMatchObject({
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
      "content-type": "application/json"
    })
    const b = answer(new Thing({ id: "a" }), answers)
    expect(b).not.toBe(first)
    expect(text(b)).toBe(text(first))
  })

  it("kept: the answer made for a shared value before, and nothing for a value never answered or not shared", () => {
    const answers = successAnswers(Thing as Schema.Schema<unknown, unknown>, 200)
    const a = new Thing({ id: "a" })
    expect(answers.kept(a)).toBeUndefined()
    const first = answer(a, answers)
    expect(Effect.runSync(answers.kept(a)!)).toBe(first)
    const plain = { id: "p" }
    answer(plain, answers)
    expect(answers.kept(plain)).toBeUndefined()
  })

  it("a plain object the handler may change is encoded afresh every time", () => {
    const answers = successAnswers(Schema.Struct({ n: Schema.Number }) as Schema.Schema<unknown, unknown>, 200)
    const value = { n: 1 }
    const first = Effect.runSync(answers.answer(value))
    value.n = 2
    const second = Effect.runSync(answers.answer(value))
    expect(second).not.toBe(first)
    expect(text(second)).toBe('{"n":2}')
  })

  it("keeps at most 1024 answers: the oldest is made again once that many others came after it", () => {
    const answers = successAnswers(Thing as Schema.Schema<unknown, unknown>, 200)
    const things = Array.from({ length: 1025 }, (_, i) => new Thing({ id: String(i) }))
    const first = answer(things[0], answers)
    expect(answer(things[0], answers)).toBe(first)
    for (const thing of things.slice(1)) answer(thing, answers)
    expect(answer(things[0], answers)).not.toBe(first)
    expect(answer(things[1024], answers)).toBe(answer(things[1024], answers))
  })

  it("a value the contract's schema refuses fails with the ParseError, nothing is kept", () => {
    const answers = successAnswers(Thing as Schema.Schema<unknown, unknown>, 200)
    const wrong = Object.freeze({ id: 1 })
    const exit = Effect.runSyncExit(answers.answer(wrong))
    expect(exit._tag).toBe("Failure")
  })
})
