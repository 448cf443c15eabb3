// DocuID service worker: shows a sign-in request pushed to this phone and opens its approval page.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "DocuID", {
      body: data.body || "Open to approve or deny a sign-in.",
      tag: data.tag || "docuid",
      requireInteraction: true,
      data: { url: data.url },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  // Only ever open pages of this site.
  if (url && new URL(url).origin === self.location.origin) event.waitUntil(self.clients.openWindow(url));
});
