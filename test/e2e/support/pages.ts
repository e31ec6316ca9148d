/** The script and style sheet a page's HTML links: content-hashed same-origin URLs, or undefined. */
export const pageAssets = (html: string) => ({
  script: /<script type="module" src="(\/assets\/users\.[0-9a-f]{16}\.js)"><\/script>/.exec(html)?.[1],
  style: /<link rel="stylesheet" href="(\/assets\/style\.[0-9a-f]{16}\.css)">/.exec(html)?.[1]
})
