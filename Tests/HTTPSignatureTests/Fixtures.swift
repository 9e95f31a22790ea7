import Foundation

/// Keys made once with OpenSSH 9.2 `ssh-keygen`, with the fingerprints it printed. Test-only keys.
enum Fixtures {
    static let ed25519Line =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMAo2mKGIo+XUl+0Q5CAbWVjCqibGZG5nDsEO3HIUGRf fixture@example"
    static let ed25519MD5 = "44:da:f0:d1:73:90:aa:8b:3d:f9:ac:89:17:64:38:6e"
    static let ed25519SHA256 = "SHA256:H4eIXtL+7tRtIWECNbeeptPUmCHekGZqu57Sa3jRCD8"
    static let ed25519Private = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
        QyNTUxOQAAACDAKNpihiKPl1JftEOQgG1lYwqomxmRuZw7BDtxyFBkXwAAAJjhHpBt4R6Q
        bQAAAAtzc2gtZWQyNTUxOQAAACDAKNpihiKPl1JftEOQgG1lYwqomxmRuZw7BDtxyFBkXw
        AAAEBSRbxdvUf/PlhChPs6I4utrGxNlMN+zII24xXAjRxj18Ao2mKGIo+XUl+0Q5CAbWVj
        CqibGZG5nDsEO3HIUGRfAAAAD2ZpeHR1cmVAZXhhbXBsZQECAwQFBg==
        -----END OPENSSH PRIVATE KEY-----
        """

    static let p256Line = """
        ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKn9l4HQDU9TuUTvcCV71bzIpX7rk9zb4iPnSMYSXeuPHOCAxW1uAoGLEEJWYDrEF4WCtW3WEhBU8fGrxUGKtrk= p256 fixture
        """
    static let p256MD5 = "f6:f3:bf:f5:6f:ca:98:b1:bd:45:bf:0b:46:d2:bf:f8"
    static let p256SHA256 = "SHA256:NR4El/DQ0b76qQI7zr517524mXVqmnoDYV3OYIGPLaM"

    static let rsa1024Line = """
        ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDqqEK4ORp/QDxueuZjXuMelzGA8QOLQtvy9kM6TS8SHRiiXorFmTDzEWOIyPh+SFVE4iZoSZaSDI+H1wUVWN5epjTFhABzfUg8byLj9ak0I/Zn5x8flKZzhX9PDqdYg9Ca4nQF3RvV2qDIId2JAY6DBy5S43reESK4OOXQ6PAs7w==
        """
    static let rsa1024MD5 = "66:14:80:cd:b3:ff:5d:86:8d:8e:22:44:9b:12:d0:74"
    static let rsa1024SHA256 = "SHA256:bv40tcxWwy7cCqqqFbv0Yn+cvvJGL8Dp/sp/+mTOj+g"

    /// The Authorization header of sdc-imgapi's recorded `GET /ping` (reference-exchanges, public-sigauth/01).
    static let recordedAuthorization = """
        Signature keyId="admin",algorithm="rsa-sha256",signature="hwsPtu5adqhfTMgiDuu+N4gZ9Oe3oxL4zJuFcPXpkWYJv2rp3cXE7TFdRbkUC2DJYlcvYa6f5YopSejzLcO7wHlj+6MmRteEK8waImZmPen9PRpcrL3wdZYK77HwAHOTqbEKHiSYygmgBBtMa69Dix+VpOAjvZvt5GhgS3PE+IQboejXJaTC4QCjDhNxvqCiWJnSgTbadY0MOd8BWJ7Rka2UQBqNBjfDvE3GNa7HUJq+sbVhp414E8jLnKVjLXGFBC0nTXQW5GehuChcsF8uLq4GePE+mcCTrIJ9DBgJxxWaAEdBaDoEZGrvorCeb70WNgUkjcESBupq+bE7tyJyXg=="
        """
    static let recordedDate = "Sun, 22 Nov 2026 02:41:35 GMT"
}
