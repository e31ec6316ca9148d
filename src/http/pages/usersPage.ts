import type { AuthenticationError, AuthenticationErrorTag } from "../../domain/errors.js"
import { canManageUsers, canViewUsers } from "../../domain/permissions.js"
import { Role } from "../../domain/User.js"
import { htmlTemplate } from "./template.js"
import type { WebFiles } from "./webFiles.js"

/*
 * The Users page and the HTML error page, rendered from web/users.html and web/error.html. The
 * page's program is web/users.js: it reads the server's data below from the page and builds
 * every node from user data with textContent, never innerHTML.
 */

/** What web/users.js reads from the page's `data-page` attribute (it is typed by this interface). */
export interface UsersPageData {
  readonly roles: ReadonlyArray<Role>
  /** The roles that see users and the audit log, and those that change users: domain/permissions' decision. */
  readonly viewers: ReadonlyArray<Role>
  readonly managers: ReadonlyArray<Role>
}

const pageData: UsersPageData = {
  roles: Role.literals,
  viewers: Role.literals.filter(canViewUsers),
  managers: Role.literals.filter(canManageUsers)
}

/** One title per authentication failure: the compiler refuses a new failure without one. */
const TITLES: { readonly [Tag in AuthenticationErrorTag]: string } = {
  ClientNotAllowed: "This request did not come through the trusted proxy",
  UntrustedClientCertificate: "This connection did not come from the trusted proxy",
  MissingIdentityHeader: "You are not signed in",
  ProxyAuthDisabled: "Proxy authentication is not enabled",
  AmbiguousHeader: "The sign-in headers were ambiguous",
  InvalidHeader: "The sign-in headers were not valid",
  InvalidForwardedAddress: "The forwarded client address was not valid",
  MissingAssertion: "You are not signed in",
  InvalidAssertion: "Your sign-in token was not accepted",
  AssertionKeysUnavailable: "Headtower cannot fetch the identity provider's signing keys",
  UserDisabled: "Your account is disabled",
  UserStoreUnavailable: "Headtower cannot reach its user store"
}

/** The two pages, from the files read at start-up; a file whose slots do not match is a defect. */
export const makePages = (files: WebFiles) => {
  const users = htmlTemplate("web/users.html", files.usersHtml, {
    text: ["styleUrl", "scriptUrl", "pageData"],
    flags: ["logout"]
  })
  const error = htmlTemplate("web/error.html", files.errorHtml, {
    text: ["styleUrl", "title", "heading", "message", "tag"]
  })
  return {
    usersPage: (options: { logoutEnabled: boolean }): string =>
      users({
        styleUrl: files.style.url,
        scriptUrl: files.script.url,
        pageData: JSON.stringify(pageData),
        logout: options.logoutEnabled
      }),
    errorPage: ({ _tag: tag, message }: AuthenticationError): string =>
      error({ styleUrl: files.style.url, title: TITLES[tag], heading: TITLES[tag], message, tag })
  }
}
